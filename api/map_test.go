package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/web"
)

// TestMapPageIsPublicAndLocked: /map loads without a token (its sign-in
// form must show) under a CSP that admits nothing but postwatch's own
// scripts, styles, workers and fetches, and it runs no inline script.
func TestMapPageIsPublicAndLocked(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/map", nil, "").wantStatus(http.StatusOK)
	if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q", ct)
	}
	r.wantHeader("Referrer-Policy", "no-referrer").wantHeader("X-Frame-Options", "DENY").wantHeader("Cache-Control", "no-cache")
	csp := r.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "worker-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, loose := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
		if strings.Contains(csp, loose) {
			t.Errorf("CSP %q allows %s", csp, loose)
		}
	}
	body := r.Body.String()
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("inline script %s", tag)
		}
	}
	if strings.Contains(body, " style=") || strings.Contains(body, "<style") {
		t.Error("the page holds inline styles, which its CSP refuses")
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(body) {
		t.Error("the page names another host")
	}
	// A revalidation of the same build is a 304.
	e.do("GET", "/map", nil, "", "If-None-Match", r.Header().Get("ETag")).wantStatus(http.StatusNotModified)
}

// TestMapTakesTheItemsParameters: the page's query string is the items
// parameters of its view, so a shared link opens; anything else is a 400
// naming the parameter, as on every route.
func TestMapTakesTheItemsParameters(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/map?type=protest,riot&actor=irgc-qf&attribution=chain&datetime=2018-09-01/2018-09-30&severity_min=2&q=basra&facility=2&bbox=43,29,49,34", nil, "").wantStatus(http.StatusOK)
	e.do("GET", "/map?access_token=pw_whatever", nil, "").wantStatus(http.StatusOK)
	e.do("GET", "/map?zoom=3", nil, "").wantProblem(http.StatusBadRequest, "zoom")
}

// TestMapAssets: every asset the page names is served with its media type,
// a year of immutable caching under the build's content hash, an ETag and
// gzip; another build's hash or an unknown file is a 404; the template of
// the page is not an asset.
func TestMapAssets(t *testing.T) {
	e := newEnv(t)
	page := e.do("GET", "/map", nil, "").wantStatus(http.StatusOK).Body.String()
	named := regexp.MustCompile(`(?:src|href)="(map/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(named) < 3 {
		t.Fatalf("the page names %d assets", len(named))
	}
	wantType := map[string]string{".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".geojson": "application/geo+json"}
	files := []string{"main.js", "maplibre-gl.mjs", "maplibre-gl-worker.mjs", "countries.geojson", "pages.css"}
	for _, m := range named {
		files = append(files, m[1][strings.LastIndex(m[1], "/")+1:])
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			url := "/map/assets/" + web.Version + "/" + name
			r := e.in(t).do("GET", url, nil, "").wantStatus(http.StatusOK)
			ext := name[strings.LastIndex(name, "."):]
			if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, wantType[ext]) {
				t.Fatalf("Content-Type %q, want %s", ct, wantType[ext])
			}
			r.wantHeader("Cache-Control", "public, max-age=31536000, immutable")
			if !bytes.Equal(r.Body.Bytes(), web.Assets[name].Body) {
				t.Fatal("the body is not the embedded file")
			}
			tag := r.Header().Get("ETag")
			e.in(t).do("GET", url, nil, "", "If-None-Match", `W/`+tag).wantStatus(http.StatusNotModified)
			z := e.in(t).do("GET", url, nil, "", "Accept-Encoding", "br;q=1, gzip;q=0.5").wantStatus(http.StatusOK)
			if len(web.Assets[name].Body) > 4096 {
				z.wantHeader("Content-Encoding", "gzip").wantHeader("Vary", "Accept-Encoding")
				zr, err := gzip.NewReader(z.Body)
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(plain, web.Assets[name].Body) {
					t.Fatalf("gzip body does not decode to the file (%v)", err)
				}
			}
			e.in(t).do("GET", url, nil, "", "Accept-Encoding", "gzip;q=0").wantHeader("Content-Encoding", "")
		})
	}
	for _, url := range []string{
		"/map/assets/0000000000000000/main.js",
		"/map/assets/" + web.Version + "/nothing.js",
		"/map/assets/" + web.Version + "/index.html",
		"/map/assets/" + web.Version + "/..%2Fweb.go",
	} {
		e.do("GET", url, nil, "").wantProblem(http.StatusNotFound, "")
	}
}

// TestMapWeight: the page and everything it loads stay within the
// contract's 3 MB (§11); the browser test measures the same in Chromium.
func TestMapWeight(t *testing.T) {
	total := 0
	for name, a := range web.Assets {
		if name != "pages.css" {
			total += len(a.Body)
		}
	}
	if total > 3<<20 {
		t.Fatalf("the map's assets weigh %d bytes, over 3 MB", total)
	}
}

// TestDataStaysBehindTokens: the map being public opens nothing else; the
// data it shows needs a token like any client's request.
func TestDataStaysBehindTokens(t *testing.T) {
	e := newEnv(t)
	for _, url := range []string{"/collections/incidents/items", "/collections/facilities/items", "/stats/incidents?group_by=day", "/alerts/stream"} {
		e.do("GET", url, nil, "").wantProblem(http.StatusUnauthorized, "")
	}
	e.do("OPTIONS", "/collections/incidents/items", nil, domain.RoleAnalyst).wantHeader("Allow", "GET, OPTIONS, HEAD")
}

// TestHTMLPagesLinkToTheMap: every HTML page links to the map, and an
// items page opens the map on the same selection.
func TestHTMLPagesLinkToTheMap(t *testing.T) {
	e := newEnv(t)
	id := e.createIncident(44.36, 33.31, nil)
	for _, url := range []string{"/?f=html", "/collections?f=html", "/collections/incidents/items?f=html", "/api.html", "/conformance?f=html"} {
		body := e.do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.String()
		if !strings.Contains(body, `/map"`) {
			t.Errorf("%s does not link to the map", url)
		}
	}
	body := e.do("GET", "/collections/incidents/items?f=html&type=protest&severity_min=2&limit=5&sortby=severity", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.String()
	if !strings.Contains(body, `/map?severity_min=2&amp;type=protest"`) {
		t.Errorf("the items page does not open the map on its selection:\n%s", body)
	}
	body = e.do("GET", "/collections/incidents/items/"+strconv.FormatInt(id, 10)+"?f=html", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.String()
	if !strings.Contains(body, `/map?bbox=44.35000%2C33.30000%2C44.37000%2C33.32000"`) {
		t.Errorf("the incident's page does not open the map around it:\n%s", body)
	}
}

// TestItemsPageMapsItsFeatures: an items page (and one item's page) holds
// a map container, loads the map's module and MapLibre from the versioned
// assets under the map's CSP, and carries the page's own features, as the
// GeoJSON of f=json, in a data block that no browser runs, each with its
// item page (token kept) for a click on its point.
func TestItemsPageMapsItsFeatures(t *testing.T) {
	e := newEnv(t)
	a := e.createIncident(44.36, 33.31, map[string]any{"title": "</script><script>alert(1)</script>"})
	b := e.createIncident(47.78, 30.51, map[string]any{"severity": 4})
	e.createIncident(47.79, 30.52, map[string]any{"severity": 1})
	tok := e.tokens[domain.RoleAnalyst]
	block := regexp.MustCompile(`(?s)<script type="application/geo\+json" id="features">(.*?)</script>`)
	type fc struct {
		Features []struct {
			ID       int64 `json:"id"`
			Geometry struct {
				Coordinates []float64 `json:"coordinates"`
			} `json:"geometry"`
			Links []struct{ Href, Rel, Type string } `json:"links"`
		} `json:"features"`
	}
	mapped := func(t *testing.T, url string) fc {
		t.Helper()
		r := e.in(t).do("GET", url, nil, "").wantStatus(http.StatusOK)
		csp := r.Header().Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "worker-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("CSP %q is loose", csp)
		}
		body := r.Body.String()
		assets := "/map/assets/" + web.Version + "/"
		if !strings.Contains(body, `<div id="features-map"`) || !strings.Contains(body, assets+`maplibre-gl.css"`) ||
			!regexp.MustCompile(`<script type="module" src="[^"]*`+assets+`pagemap.js"></script>`).MatchString(body) {
			t.Fatalf("the page lacks its map, MapLibre's style or the module:\n%s", body)
		}
		if strings.Contains(body, "<script>alert") {
			t.Fatal("a record's text ends the data block")
		}
		m := block.FindAllStringSubmatch(body, -1)
		if len(m) != 1 {
			t.Fatalf("%d data blocks, want 1:\n%s", len(m), body)
		}
		var got fc
		if err := json.Unmarshal([]byte(m[0][1]), &got); err != nil {
			t.Fatalf("the data block is not JSON: %v\n%s", err, m[0][1])
		}
		return got
	}

	page := mapped(t, "/collections/incidents/items?f=html&limit=2&sortby=id&access_token="+tok)
	if len(page.Features) != 2 || page.Features[0].ID != a || page.Features[1].ID != b {
		t.Fatalf("the data block holds %+v, want the page's features %d and %d", page.Features, a, b)
	}
	for _, f := range page.Features {
		if len(f.Geometry.Coordinates) != 2 || len(f.Links) != 1 || f.Links[0].Type != "text/html" ||
			!strings.Contains(f.Links[0].Href, "/collections/incidents/items/"+strconv.FormatInt(f.ID, 10)+"?f=html&access_token="+tok) {
			t.Errorf("feature %d: geometry %v, links %+v", f.ID, f.Geometry.Coordinates, f.Links)
		}
	}
	if none := mapped(t, "/collections/incidents/items?f=html&bbox=0,0,1,1&access_token="+tok); len(none.Features) != 0 {
		t.Fatalf("an empty page's block holds %+v", none.Features)
	}
	one := mapped(t, "/collections/incidents/items/"+strconv.FormatInt(b, 10)+"?f=html&access_token="+tok)
	if len(one.Features) != 1 || one.Features[0].ID != b || one.Features[0].Geometry.Coordinates[0] != 47.78 {
		t.Fatalf("the item page's block holds %+v", one.Features)
	}
}

// TestIDFilterListsWhatCameAfter: filter=id > N, with any other filter, is
// how the map asks for what was stored since the newest incident it has.
func TestIDFilterListsWhatCameAfter(t *testing.T) {
	e := newEnv(t)
	first := e.createIncident(44.36, 33.31, nil)
	second := e.createIncident(44.37, 33.32, map[string]any{"severity": 4})
	third := e.createIncident(44.38, 33.33, map[string]any{"severity": 1})
	ids := func(url string) []float64 {
		var out []float64
		for _, f := range e.do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()["features"].([]any) {
			out = append(out, f.(map[string]any)["id"].(float64))
		}
		slices.Sort(out)
		return out
	}
	after := "/collections/incidents/items?filter=" + url.QueryEscape("id > "+strconv.FormatInt(first, 10))
	if got, want := ids(after), []float64{float64(second), float64(third)}; !slices.Equal(got, want) {
		t.Fatalf("id > %d: %v, want %v", first, got, want)
	}
	if got, want := ids(after+"&severity_min=3&bbox=44,33,45,34"), []float64{float64(second)}; !slices.Equal(got, want) {
		t.Fatalf("id > %d with severity_min=3: %v, want %v", first, got, want)
	}
	e.do("GET", "/collections/incidents/items?filter="+url.QueryEscape("id > 'x'"), nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "filter")
}
