package main

// Real OGC API – Features clients against the real server: GDAL's OAPIF
// driver (ogrinfo, ogr2ogr) and OWSLib. CI installs them (.ci/run); where
// they are missing the tests skip and say why.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pythonWithOWSLib is Debian's interpreter, the one python3-owslib loads in.
const pythonWithOWSLib = "/usr/bin/python3"

// extraIncidents is how many incidents the GIS tests add to the seed, so
// that a page of 10 holds fewer than all and clients must follow next.
const extraIncidents = 30

// gisServer is a seeded server with extra incidents and an analyst token.
func gisServer(tb testing.TB) (*server, *apiClient) {
	tb.Helper()
	db := filepath.Join(tb.TempDir(), "gis.db")
	srv := startServer(tb, db, "--seed")
	officer := newClient(tb, srv.base, newToken(tb, db, "officer"))
	for i := range extraIncidents {
		title := fmt.Sprintf("GIS client probe %d", i)
		status, body, err := officer.request("POST", "/collections/incidents/items",
			incidentFeature(title, 44.30+float64(i)/100, 33.20+float64(i%7)/100))
		if err != nil || status != 201 {
			tb.Fatalf("POST %s: %d %s %v", title, status, body, err)
		}
	}
	c := newClient(tb, srv.base, newToken(tb, db, "analyst"))
	if n := c.numberMatched(""); n <= 10+extraIncidents/2 {
		tb.Fatalf("only %d incidents; paging by 10 would not be exercised", n)
	}
	return srv, c
}

// runTool runs an external client and returns its combined output.
func runTool(tb testing.TB, name string, args ...string) (string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(cleanEnv(), "GDAL_HTTP_TIMEOUT=20", "GDAL_HTTP_MAX_RETRY=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// gdal holds how to call GDAL against one server.
type gdal struct {
	tb   testing.TB
	srv  *server
	auth []string // --config options sending the bearer token
}

func newGDAL(tb testing.TB, srv *server, token string) *gdal {
	tb.Helper()
	for _, tool := range []string{"ogrinfo", "ogr2ogr"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s is not installed (apt-get install gdal-bin; .ci/run does): %v", tool, err)
		}
	}
	out, err := runTool(tb, "ogrinfo", "--version")
	m := regexp.MustCompile(`GDAL (\d+)\.(\d+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		tb.Fatalf("ogrinfo --version: %v\n%s", err, out)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	g := &gdal{tb: tb, srv: srv}
	if major > 3 || major == 3 && minor >= 6 {
		g.auth = []string{"--config", "GDAL_HTTP_HEADERS", "Authorization: Bearer " + token}
	} else {
		// Before GDAL 3.6 headers come from a file.
		file := filepath.Join(tb.TempDir(), "headers.txt")
		if err := os.WriteFile(file, []byte("Authorization: Bearer "+token+"\n"), 0o600); err != nil {
			tb.Fatal(err)
		}
		g.auth = []string{"--config", "GDAL_HTTP_HEADER_FILE", file}
	}
	tb.Logf("%s", strings.TrimSpace(out))
	return g
}

// run runs a GDAL tool with the token and HTTP debugging on; on failure
// it reports the URLs GDAL fetched and the server's 4xx/5xx answers.
func (g *gdal) run(tool string, args ...string) string {
	g.tb.Helper()
	full := append(append([]string{}, g.auth...), append([]string{"--debug", "on"}, args...)...)
	out, err := runTool(g.tb, tool, full...)
	if err != nil || regexp.MustCompile(`(?m)^ERROR`).MatchString(out) {
		g.tb.Fatalf("%s %s: %v\nGDAL fetched:\n%s\nGDAL said:\n%s\nserver errors:\n%s", tool, strings.Join(args, " "), err,
			strings.Join(fetches(out), "\n"), gdalErrors(out), strings.Join(g.srv.errorLines(), "\n"))
	}
	return out
}

// fetches lists the URLs in GDAL's HTTP debug output.
func fetches(out string) []string {
	var urls []string
	for _, m := range regexp.MustCompile(`HTTP: Fetch\((.*)\)`).FindAllStringSubmatch(out, -1) {
		urls = append(urls, m[1])
	}
	return urls
}

func gdalErrors(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "ERROR") || strings.HasPrefix(l, "Warning") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// noClientErrors fails the test if the server answered any request with
// 4xx or 5xx: a conforming client should never cause one.
func noClientErrors(tb testing.TB, srv *server, client string) {
	tb.Helper()
	if lines := srv.errorLines(); len(lines) > 0 {
		tb.Errorf("%s got error answers:\n%s", client, strings.Join(lines, "\n"))
	}
}

// TestGDALOgrinfo: GDAL lists both collections and counts the incidents the
// API counts, also with a bbox and an attribute filter it sends to the
// server as the query parameters the OpenAPI document declares.
func TestGDALOgrinfo(t *testing.T) {
	t.Parallel()
	srv, c := gisServer(t)
	g := newGDAL(t, srv, c.token)
	ds := "OAPIF:" + srv.base

	out := g.run("ogrinfo", "-ro", ds)
	for _, layer := range []string{"incidents", "facilities"} {
		if !regexp.MustCompile(`(?m)^\d+: ` + layer + `\b`).MatchString(out) {
			t.Errorf("ogrinfo does not list the %s layer:\n%s", layer, out)
		}
	}

	out = g.run("ogrinfo", "-ro", "-so", ds, "incidents")
	want := c.numberMatched("")
	if got := featureCount(t, out); got != want {
		t.Errorf("ogrinfo -so: Feature Count %d, the API's numberMatched %d", got, want)
	}
	for _, field := range []string{"title: String", "occurred_at: DateTime", "severity: Integer"} {
		if !strings.Contains(out, field) {
			t.Errorf("ogrinfo -so: no field %q in the layer schema", field)
		}
	}

	// A spatial and an attribute filter, paged by 10.
	out = g.run("ogrinfo", "-ro", "-q", "-oo", "PAGE_SIZE=10", ds, "incidents",
		"-spat", "44", "33", "45", "34", "-where", "type = 'protest'")
	got := strings.Count(out, "OGRFeature(incidents):")
	want = c.numberMatched("&bbox=44,33,45,34&type=protest")
	if got != want || want < extraIncidents {
		t.Errorf("ogrinfo -spat 44 33 45 34 -where \"type = 'protest'\": %d features, the API matches %d", got, want)
	}
	var serverSide bool
	for _, u := range fetches(out) {
		if strings.Contains(u, "bbox=") && strings.Contains(u, "type=protest") {
			serverSide = true
		}
	}
	if !serverSide {
		t.Errorf("GDAL filtered on the client, not with bbox and type on the server; it fetched:\n%s", strings.Join(fetches(out), "\n"))
	}
	noClientErrors(t, srv, "GDAL")
}

// featureCount reads "Feature Count: N" from ogrinfo -so.
func featureCount(tb testing.TB, out string) int {
	tb.Helper()
	m := regexp.MustCompile(`Feature Count: (-?\d+)`).FindStringSubmatch(out)
	if m == nil {
		tb.Fatalf("no Feature Count in:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestGDALOgr2ogrCopiesEveryIncident: ogr2ogr pages through incidents by
// following next links and copies every one, with the server's ids.
func TestGDALOgr2ogrCopiesEveryIncident(t *testing.T) {
	t.Parallel()
	srv, c := gisServer(t)
	g := newGDAL(t, srv, c.token)
	out := filepath.Join(t.TempDir(), "incidents.json")
	log := g.run("ogr2ogr", "-preserve_fid", "-f", "GeoJSON", out, "OAPIF:"+srv.base, "incidents", "-oo", "PAGE_SIZE=10")

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("ogr2ogr wrote no file: %v", err)
	}
	var fc struct {
		Features []struct {
			ID         int64 `json:"id"`
			Properties struct {
				Title string `json:"title"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		t.Fatalf("ogr2ogr output: %v", err)
	}
	want := c.titles("")
	if len(fc.Features) != len(want) {
		t.Errorf("ogr2ogr copied %d features, the API has %d", len(fc.Features), len(want))
	}
	seen := map[int64]bool{}
	for _, f := range fc.Features {
		if seen[f.ID] {
			t.Errorf("feature %d copied twice: paging repeated it", f.ID)
		}
		seen[f.ID] = true
		if title, ok := want[f.ID]; !ok || title != f.Properties.Title {
			t.Errorf("copied feature %d %q; the API has %q", f.ID, f.Properties.Title, title)
		}
	}
	for id, title := range want {
		if !seen[id] {
			t.Errorf("incident %d %q was not copied", id, title)
		}
	}
	pages := 0
	for _, u := range fetches(log) {
		if strings.Contains(u, "/collections/incidents/items") && strings.Contains(u, "cursor=") {
			pages++
		}
	}
	if pages < len(want)/10 {
		t.Errorf("GDAL followed %d next links for %d incidents by 10; it fetched:\n%s", pages, len(want), strings.Join(fetches(log), "\n"))
	}
	noClientErrors(t, srv, "ogr2ogr")
}

// owslibScript exercises OWSLib's OGC API – Features client and prints
// what it saw as JSON.
const owslibScript = `
import json, sys
from owslib.ogcapi.features import Features
url, token = sys.argv[1], sys.argv[2]
w = Features(url, headers={'Authorization': 'Bearer ' + token})
out = {}
out['conformsTo'] = w.conformance()['conformsTo']
out['collections'] = [c['id'] for c in w.collections()['collections']]
out['collection'] = w.collection('incidents')['id']
items = w.collection_items('incidents', limit=5)
out['items'] = {'features': len(items['features']), 'numberMatched': items.get('numberMatched'),
                'numberReturned': items.get('numberReturned'), 'ids': [f['id'] for f in items['features']]}
box = w.collection_items('incidents', bbox=[44, 33, 45, 34], limit=1000)
out['bbox'] = {'features': len(box['features']), 'numberMatched': box.get('numberMatched')}
out['item'] = w.collection_item('incidents', str(items['features'][0]['id']))['id']
out['openapi'] = w.api().get('openapi') if isinstance(w.api(), dict) else 'object'
print(json.dumps(out))
`

// TestOWSLib: OWSLib lists both collections and reads pages with
// numberMatched, also with a bbox.
func TestOWSLib(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(pythonWithOWSLib); err != nil {
		t.Skipf("%s is missing: %v", pythonWithOWSLib, err)
	}
	if out, err := exec.Command(pythonWithOWSLib, "-c", "import owslib").CombinedOutput(); err != nil {
		t.Skipf("OWSLib is not installed for %s (apt-get install python3-owslib; .ci/run does): %s", pythonWithOWSLib, out)
	}
	srv, c := gisServer(t)
	script := filepath.Join(t.TempDir(), "owslib_probe.py")
	if err := os.WriteFile(script, []byte(owslibScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runTool(t, pythonWithOWSLib, script, srv.base, c.token)
	if err != nil {
		t.Fatalf("OWSLib: %v\n%s\nserver errors:\n%s", err, out, strings.Join(srv.errorLines(), "\n"))
	}
	var got struct {
		ConformsTo  []string `json:"conformsTo"`
		Collections []string `json:"collections"`
		Collection  string   `json:"collection"`
		Items       struct {
			Features, NumberMatched, NumberReturned int
			IDs                                     []int64
		} `json:"items"`
		BBox struct {
			Features, NumberMatched int
		} `json:"bbox"`
		Item    int64  `json:"item"`
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &got); err != nil {
		t.Fatalf("OWSLib output: %v\n%s", err, out)
	}
	t.Logf("OWSLib saw: %+v", got)
	if !contains(got.ConformsTo, "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core") {
		t.Errorf("conformance: %v", got.ConformsTo)
	}
	if !contains(got.Collections, "incidents") || !contains(got.Collections, "facilities") || got.Collection != "incidents" {
		t.Errorf("collections: %v, collection: %q", got.Collections, got.Collection)
	}
	want := c.numberMatched("")
	if got.Items.Features != 5 || got.Items.NumberReturned != 5 || got.Items.NumberMatched != want {
		t.Errorf("collection_items(limit=5): %+v; want 5 features of numberMatched %d", got.Items, want)
	}
	wantBox := c.numberMatched("&bbox=44,33,45,34")
	if got.BBox.Features != wantBox || got.BBox.NumberMatched != wantBox || wantBox < extraIncidents {
		t.Errorf("collection_items(bbox=[44, 33, 45, 34]): %+v; the API matches %d", got.BBox, wantBox)
	}
	if len(got.Items.IDs) == 0 || got.Item != got.Items.IDs[0] {
		t.Errorf("collection_item(%v): id %d", got.Items.IDs, got.Item)
	}
	if !strings.HasPrefix(got.OpenAPI, "3.0") {
		t.Errorf("OWSLib read OpenAPI version %q from the service-desc link, want 3.0.x", got.OpenAPI)
	}
	noClientErrors(t, srv, "OWSLib")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
