package api_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestExports: every format holds every match of the filter in the items'
// order, read back by an independent reader, across more than one page of
// the walk; an empty result is a valid empty file; bad input is a 400.
func TestExports(t *testing.T) {
	e := newEnv(t)
	e.importSynthetic(2345, 7, nil)

	filters := []string{
		"sortby=-occurred_at",
		"sortby=severity,title&datetime=2018-01-01/..",
		"bbox=40,28,50,38&sortby=type,-id",
		"type=protest,ied&severity_min=3",
		"type=cyber&country=FR", // nothing
	}
	for _, filter := range filters {
		want := e.ids("/collections/incidents/items?limit=10000&" + filter)
		t.Run(filter, func(t *testing.T) {
			e := e.with(t)
			t.Run("csv", func(t *testing.T) {
				r := e.with(t).do("GET", "/exports/incidents?f=csv&"+filter, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
				wantAttachment(t, r, "text/csv", "incidents.csv")
				rows, err := csv.NewReader(strings.NewReader(r.Body.String())).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				if len(rows[0]) != 14 || rows[0][0] != "id" || rows[0][13] != "external_id" {
					t.Fatalf("header %v", rows[0])
				}
				var got []int64
				for _, row := range rows[1:] {
					id, err := strconv.ParseInt(row[0], 10, 64)
					if err != nil {
						t.Fatalf("row %v", row)
					}
					got = append(got, id)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%d rows, want the %d items in their order", len(got), len(want))
				}
			})
			t.Run("geojson", func(t *testing.T) {
				r := e.with(t).do("GET", "/exports/incidents?f=geojson&"+filter, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
				wantAttachment(t, r, "application/geo+json", "incidents.geojson")
				var fc struct {
					Type     string `json:"type"`
					Features []struct {
						ID int64 `json:"id"`
					} `json:"features"`
					NumberMatched int `json:"numberMatched"`
				}
				if err := json.Unmarshal(r.Body.Bytes(), &fc); err != nil || fc.Type != "FeatureCollection" {
					t.Fatalf("not a FeatureCollection (%v): %.300s", err, r.Body.String())
				}
				var got []int64
				for _, f := range fc.Features {
					got = append(got, f.ID)
				}
				if !slices.Equal(got, want) || fc.NumberMatched != len(want) {
					t.Fatalf("%d features (numberMatched %d), want the %d items in their order", len(got), fc.NumberMatched, len(want))
				}
			})
			t.Run("stix", func(t *testing.T) {
				r := e.with(t).do("GET", "/exports/incidents?f=stix&"+filter, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
				wantAttachment(t, r, "application/stix+json", "incidents.json")
				if n := len(validSTIX(t, r.Body.Bytes())["incident"]); n != len(want) {
					t.Fatalf("%d incidents, want %d", n, len(want))
				}
			})
			t.Run("gpkg", func(t *testing.T) {
				r := e.with(t).do("GET", "/exports/incidents?f=gpkg&"+filter, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
				wantAttachment(t, r, "application/geopackage+sqlite3", "incidents.gpkg")
				if cl := r.Header().Get("Content-Length"); cl != strconv.Itoa(r.Body.Len()) {
					t.Errorf("Content-Length %q for %d bytes", cl, r.Body.Len())
				}
				// In the items' order: GDAL lists features by fid, which
				// numbers them as written.
				if got := ogrIDs(t, r.Body.Bytes(), ""); !slices.Equal(got, want) {
					t.Fatalf("GDAL reads %d features, want the %d items in their order", len(got), len(want))
				}
			})
		})
	}

	for _, bad := range []struct{ query, field string }{
		{"", "f"},
		{"f=kml", "f"},
		{"f=csv&limit=10", "limit"},
		{"f=csv&offset=10", "offset"},
		{"f=csv&sortby=colour", "sortby"},
		{"f=gpkg&bbox=1,2,3", "bbox"},
		{"f=stix&actor_role=target", "actor_role"},
	} {
		t.Run("400 "+bad.query, func(t *testing.T) {
			e.with(t).do("GET", "/exports/incidents?"+bad.query, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, bad.field)
		})
	}
}

// TestExportFormatFromAccept: without f=, Accept picks the export (f= wins
// over it); an Accept that names none of the export types is a 400 naming f.
func TestExportFormatFromAccept(t *testing.T) {
	e := newEnv(t)
	e.createIncident(44.4, 33.3, nil)
	for _, tc := range []struct {
		url, accept, want string // want: Content-Type prefix, or "400"
	}{
		{"/exports/incidents", "text/csv", "text/csv"},
		{"/exports/incidents", "application/geo+json", "application/geo+json"},
		{"/exports/incidents", "application/stix+json;version=2.1", "application/stix+json"},
		{"/exports/incidents", "application/geopackage+sqlite3", "application/geopackage+sqlite3"},
		{"/exports/incidents", "text/csv;q=0.5, application/geo+json", "application/geo+json"},
		{"/exports/incidents", "text/*", "text/csv"},
		{"/exports/incidents", "*/*", "400"},
		{"/exports/incidents", "", "400"},
		{"/exports/incidents", "text/csv;q=0, text/html", "400"},
		{"/exports/incidents?f=csv", "application/geo+json", "text/csv"},
	} {
		t.Run(tc.url+" "+tc.accept, func(t *testing.T) {
			wantNegotiated(e.in(t), tc.url, tc.accept, tc.want, "f")
		})
	}
}

func wantAttachment(t *testing.T, r *response, contentType, filename string) {
	t.Helper()
	if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, contentType) {
		t.Errorf("Content-Type %q, want %s", ct, contentType)
	}
	if cd := r.Header().Get("Content-Disposition"); cd != `attachment; filename="`+filename+`"` {
		t.Errorf("Content-Disposition %q", cd)
	}
}

// ogrIDs reads a GeoPackage with GDAL's ogrinfo (skipping the test when
// GDAL is not installed) and returns the ids of its incidents layer in
// the order GDAL lists them,
// checking the layer's geometry, SRS and fields on the way. where is an
// optional OGR SQL attribute filter.
func ogrIDs(t *testing.T, gpkgBytes []byte, where string) []int64 {
	t.Helper()
	ogrinfo, err := exec.LookPath("ogrinfo")
	if err != nil {
		t.Skip("ogrinfo (GDAL) is not installed")
	}
	path := filepath.Join(t.TempDir(), "incidents.gpkg")
	if err := os.WriteFile(path, gpkgBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-ro", "-al", "-q"}
	if where != "" {
		args = append(args, "-where", where)
	}
	out, err := exec.Command(ogrinfo, append(args, path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo: %v\n%s", err, out)
	}
	text := string(out)
	if strings.Contains(text, "ERROR") || strings.Contains(text, "Warning") {
		t.Fatalf("GDAL complains:\n%.2000s", text)
	}
	var ids []int64
	for _, m := range regexp.MustCompile(`(?m)^\s+id \(Integer(?:64)?\) = (\d+)$`).FindAllStringSubmatch(text, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	meta, err := exec.Command(ogrinfo, "-ro", "-so", path, "incidents").CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo -so: %v\n%s", err, meta)
	}
	wants := []string{"Geometry: Point", `ID["EPSG",4326]`, "FID Column = fid", "Geometry Column = geom",
		"id: Integer", "lon: Real", "title: String", "occurred_at: DateTime", "severity: Integer", "external_id: String"}
	if where == "" {
		wants = append(wants, fmt.Sprintf("Feature Count: %d", len(ids)))
	}
	for _, want := range wants {
		if !strings.Contains(string(meta), want) {
			t.Errorf("ogrinfo does not report %q:\n%s", want, meta)
		}
	}
	return ids
}

// TestExportGeoPackageContent: GDAL reads the layer's attributes, its
// chain column and its spatial index back as written.
func TestExportGeoPackageContent(t *testing.T) {
	e := newEnv(t)
	ids := basrahGraph(e)
	r := e.do("GET", "/exports/incidents?f=gpkg&actor=iran&attribution=chain", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	if got := ogrIDs(t, r.Body.Bytes(), "attribution = 'iran controls irgc controls irgc-qf'"); !slices.Equal(got, []int64{ids["rockets"]}) {
		t.Fatalf("GDAL finds %v by the chain, want the rockets %d", got, ids["rockets"])
	}
	path := filepath.Join(t.TempDir(), "x.gpkg")
	if err := os.WriteFile(path, r.Body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// A spatial filter goes through the gpkg_rtree_index extension.
	out, err := exec.Command("ogrinfo", "-ro", "-al", "-q", "-spat", "47.6", "30.5", "47.7", "30.6", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo -spat: %v\n%s", err, out)
	}
	for _, want := range []string{"id (Integer64) = " + strconv.FormatInt(ids["rockets"], 10), "title (String) = Three Katyusha rockets hit Basra airport",
		"occurred_at (DateTime) = 2018/09/08 05:00:00", "actors (String) = us-dos;irgc-qf", "POINT (47.6625 30.5489)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ogrinfo does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "KH claims") {
		t.Errorf("the spatial filter let Baghdad through:\n%s", out)
	}
	check, err := exec.Command("ogrinfo", "-ro", "-sql", "SELECT HasSpatialIndex('incidents', 'geom')", path).CombinedOutput()
	if err != nil || !strings.Contains(string(check), "= 1") {
		t.Errorf("GDAL sees no spatial index (%v):\n%s", err, check)
	}
}
