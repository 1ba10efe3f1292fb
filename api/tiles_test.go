package api_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/postwatch/postwatch/domain"
)

// Tile units of the whole world at zoom z, from the web-mercator formulas
// themselves rather than orb, and back.
func worldUnits(z int) float64 { return 4096 * math.Exp2(float64(z)) }

func toUnits(p orb.Point, z int) (float64, float64) {
	lat := p[1] * math.Pi / 180
	return (p[0] + 180) / 360 * worldUnits(z), (1 - math.Asinh(math.Tan(lat))/math.Pi) / 2 * worldUnits(z)
}

func fromUnits(x, y float64, z int) orb.Point {
	return orb.Point{x/worldUnits(z)*360 - 180, math.Atan(math.Sinh(math.Pi*(1-2*y/worldUnits(z)))) * 180 / math.Pi}
}

func tileURL(z, x, y int, query string) string {
	u := fmt.Sprintf("/tiles/%d/%d/%d.mvt", z, x, y)
	if query != "" {
		u += "?" + query
	}
	return u
}

// getTile fetches a tile as an analyst and decodes it; a 204 is no layers.
func (e *env) getTile(url string, headers ...string) ([]mvtLayer, *response) {
	e.t.Helper()
	r := e.do("GET", url, nil, domain.RoleAnalyst, headers...)
	switch r.Code {
	case http.StatusNoContent:
		if r.Body.Len() != 0 {
			e.t.Fatalf("%s: 204 with a body of %d bytes", url, r.Body.Len())
		}
		return nil, r
	case http.StatusOK:
	default:
		e.t.Fatalf("%s: status %d: %s", url, r.Code, r.Body.String())
	}
	if ct := r.Header().Get("Content-Type"); ct != "application/vnd.mapbox-vector-tile" {
		e.t.Fatalf("%s: Content-Type %q", url, ct)
	}
	body := r.Body.Bytes()
	if r.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			e.t.Fatalf("%s: Content-Encoding gzip but %v", url, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			e.t.Fatal(err)
		}
	}
	layers, err := decodeMVT(body)
	if err != nil {
		e.t.Fatalf("%s: not a vector tile: %v", url, err)
	}
	for _, l := range layers {
		if l.version != 2 || l.extent != 4096 {
			e.t.Errorf("%s: layer %s has version %d and extent %d, want 2 and 4096", url, l.name, l.version, l.extent)
		}
		if len(l.features) == 0 {
			e.t.Errorf("%s: layer %s is empty; empty layers must be left out", url, l.name)
		}
		for _, f := range l.features {
			if f.geom != 1 || len(f.points) != 1 {
				e.t.Errorf("%s: layer %s holds a feature of type %d with %d points, want one point", url, l.name, f.geom, len(f.points))
			}
		}
	}
	if len(body) > 500<<10 {
		e.t.Errorf("%s: %d bytes, over 500 KB", url, len(body))
	}
	return layers, r
}

func layerNamed(layers []mvtLayer, name string) *mvtLayer {
	for i := range layers {
		if layers[i].name == name {
			return &layers[i]
		}
	}
	return nil
}

// owned is how many incidents a tile's layer counts: the features inside
// the tile proper (those in its buffer belong to a neighbour), a cluster
// for its point_count.
func owned(l *mvtLayer) int {
	if l == nil {
		return 0
	}
	n := 0
	for _, f := range l.features {
		p := f.points[0]
		if p[0] < 0 || p[0] >= 4096 || p[1] < 0 || p[1] >= 4096 {
			continue
		}
		if f.props["cluster"] == true {
			n += int(f.props["point_count"].(int64))
		} else {
			n++
		}
	}
	return n
}

// TestVectorTilesFollowMVT21 checks tiles with an independent decoder:
// version 2 and extent 4096 (getTile), rounded positions, the buffer
// across an edge and the antimeridian, features carrying what a popup
// needs, no empty layer, and 204 for a tile with nothing to draw.
func TestVectorTilesFollowMVT21(t *testing.T) {
	e := newEnv(t)
	const z = 14
	basra := orb.Point{47.6625, 30.5489}
	e.createFacility(basra[0], basra[1], "U.S. Consulate General Basrah")
	home := maptile.At(basra, z)
	x0, y0 := float64(home.X)*4096, float64(home.Y)*4096
	at := func(dx, dy float64) orb.Point { return fromUnits(x0+dx, y0+dy, z) }
	rounded := e.createIncident(at(100.7, 200.6)[0], at(100.7, 200.6)[1], map[string]any{"title": "Mortar round", "severity": 4})
	nearEdge := e.createIncident(at(4096-19.2, 1000.4)[0], at(4096-19.2, 1000.4)[1], map[string]any{"type": "protest"})
	inside := e.createIncident(at(4096-100.2, 1500.4)[0], at(4096-100.2, 1500.4)[1], map[string]any{"type": "protest"})
	east := e.createIncident(179.99, 10, nil) // beside the antimeridian

	type point struct {
		id   int64
		x, y int64
	}
	tests := []struct {
		name       string
		url        string
		incidents  []point // nil: no incidents layer
		facilities int
	}{
		{"positions rounded, buffer included", tileURL(z, int(home.X), int(home.Y), ""),
			[]point{{rounded, 101, 201}, {nearEdge, 4077, 1000}, {inside, 3996, 1500}}, 1},
		{"a marker 19 units from the edge is in the neighbour too", tileURL(z, int(home.X)+1, int(home.Y), ""),
			[]point{{nearEdge, -19, 1000}}, 0},
		{"no incidents layer when the filter leaves none", tileURL(z, int(home.X), int(home.Y), "type=riot"), nil, 1},
		{"under an items filter", tileURL(z, int(home.X), int(home.Y), "severity_min=4"), []point{{rounded, 101, 201}}, 1},
		{"under a CQL2 filter", tileURL(z, int(home.X), int(home.Y), "filter="+url.QueryEscape("type = 'protest'")),
			[]point{{nearEdge, 4077, 1000}, {inside, 3996, 1500}}, 1},
		{"a bbox outside the tile", tileURL(z, int(home.X), int(home.Y), "bbox=35,33,36,34"), nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layers, _ := e.in(t).getTile(tt.url)
			inc, fac := layerNamed(layers, "incidents"), layerNamed(layers, "facilities")
			if got := len(layers); got != btoi(tt.incidents != nil)+btoi(tt.facilities > 0) {
				t.Fatalf("%d layers, want incidents %v and %d facilities", got, tt.incidents != nil, tt.facilities)
			}
			if tt.facilities > 0 && (fac == nil || len(fac.features) != tt.facilities) {
				t.Fatalf("facilities layer %+v, want %d", fac, tt.facilities)
			}
			if tt.incidents == nil {
				return
			}
			got := map[int64][2]int64{}
			for _, f := range inc.features {
				if !f.hasID || f.props["id"] != int64(f.id) {
					t.Fatalf("feature without its id: %+v", f)
				}
				for _, k := range []string{"type", "title", "occurred_at"} {
					if s, _ := f.props[k].(string); s == "" {
						t.Errorf("feature %d lacks %s: %v", f.id, k, f.props)
					}
				}
				if _, ok := f.props["severity"].(int64); !ok {
					t.Errorf("feature %d lacks severity: %v", f.id, f.props)
				}
				got[int64(f.id)] = f.points[0]
			}
			if len(got) != len(tt.incidents) {
				t.Fatalf("incidents at %v, want %v", got, tt.incidents)
			}
			for _, p := range tt.incidents {
				if got[p.id] != [2]int64{p.x, p.y} {
					t.Errorf("incident %d at %v, want [%d %d]", p.id, got[p.id], p.x, p.y)
				}
			}
		})
	}

	t.Run("across the antimeridian", func(t *testing.T) {
		// At z3 the point is 0.23 units west of the world's east edge: it
		// rounds onto the edge, stays in the last column, and is in the
		// buffer of the first.
		gx, gy := toUnits(orb.Point{179.99, 10}, 3)
		last, _ := e.in(t).getTile(tileURL(3, 7, int(gy/4096), ""))
		first, _ := e.in(t).getTile(tileURL(3, 0, int(gy/4096), ""))
		lc, fc := layerNamed(last, "incidents"), layerNamed(first, "incidents")
		if lc == nil || fc == nil || len(lc.features) != 1 || len(fc.features) != 1 {
			t.Fatalf("incident %d (world x %.2f): layers %+v and %+v", east, gx, last, first)
		}
		if lc.features[0].points[0][0] != 4095 || fc.features[0].points[0][0] != -1 {
			t.Errorf("x %d in the last tile and %d in the first, want 4095 and -1", lc.features[0].points[0][0], fc.features[0].points[0][0])
		}
	})

	t.Run("204 for a tile with nothing", func(t *testing.T) {
		_, r := e.in(t).getTile(tileURL(z, 0, 0, ""))
		if r.Code != http.StatusNoContent {
			t.Fatalf("status %d, want 204", r.Code)
		}
	})

	for _, bad := range []string{"/tiles/23/0/0.mvt", "/tiles/2/4/0.mvt", "/tiles/2/1/1.png", "/tiles/a/1/1.mvt"} {
		e.do("GET", bad, nil, domain.RoleAnalyst).wantProblem(http.StatusNotFound, "")
	}
	e.do("GET", tileURL(z, int(home.X), int(home.Y), "type=rocket"), nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "type")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestClusterCountsAddUpToMatches: at every zoom and under every kind of
// items filter, the incidents the tiles covering an area count (clusters
// by point_count, single incidents by one, buffers left to their owners)
// are the items' numberMatched for that area.
func TestClusterCountsAddUpToMatches(t *testing.T) {
	e := newEnv(t)
	e.importSynthetic(3000, 11, nil)
	filters := []string{
		"",
		"type=protest,riot",
		"severity_min=4",
		"actor=actor-001",
		"actor=actor-002&attribution=chain",
		"q=Baghdad",
		"datetime=2015-01-01T00:00:00Z/2019-12-31T23:59:59Z",
		"datetime=2020-01-01/..&type=ied",
		"filter=" + url.QueryEscape("severity >= 3 AND type <> 'protest'"),
		"near=44.4,33.3&radius=200000",
	}
	// The world at z1, and the tiles around Baghdad at z6 and z9 with a
	// bbox that is exactly their union.
	areas := []struct {
		z                      int
		minX, minY, maxX, maxY uint32
	}{{1, 0, 0, 1, 1}}
	for _, z := range []maptile.Zoom{6, 9} {
		nw, se := maptile.At(orb.Point{43.2, 34.6}, z), maptile.At(orb.Point{45.9, 31.4}, z)
		areas = append(areas, struct {
			z                      int
			minX, minY, maxX, maxY uint32
		}{int(z), nw.X, nw.Y, se.X, se.Y})
	}
	for _, a := range areas {
		bbox := ""
		if a.z > 1 {
			nw := maptile.New(a.minX, a.minY, maptile.Zoom(a.z)).Bound()
			se := maptile.New(a.maxX, a.maxY, maptile.Zoom(a.z)).Bound()
			bbox = fmt.Sprintf("bbox=%.10f,%.10f,%.10f,%.10f", nw.Min[0], se.Min[1], se.Max[0], nw.Max[1])
		}
		for _, f := range filters {
			query := strings.Trim(bbox+"&"+f, "&")
			t.Run(fmt.Sprintf("z%d %s", a.z, query), func(t *testing.T) {
				want := e.in(t).count("/collections/incidents/items?limit=1&" + query)
				if want == 0 {
					t.Fatalf("the filter matches nothing: the test would prove nothing")
				}
				got := 0
				for x := a.minX; x <= a.maxX; x++ {
					for y := a.minY; y <= a.maxY; y++ {
						layers, _ := e.in(t).getTile(tileURL(a.z, int(x), int(y), query))
						inc := layerNamed(layers, "incidents")
						got += owned(inc)
						if inc == nil || a.z > 7 {
							continue
						}
						for _, f := range inc.features {
							if f.props["cluster"] != true || f.props["point_count"].(int64) < 1 || f.hasID {
								t.Fatalf("z%d holds a feature that is not a cluster: %+v", a.z, f)
							}
							if s, _ := f.props["max_severity"].(int64); s < 1 || s > 5 {
								t.Fatalf("cluster with max_severity %v", f.props["max_severity"])
							}
						}
					}
				}
				if got != want {
					t.Errorf("the tiles count %d incidents, the items %d", got, want)
				}
			})
		}
	}
}

// TestDenseTilesCluster: a z8 tile holding more incidents than a map draws
// holds clusters that count them all, within 500 KB, at the mean of their
// members; a deeper tile with few of them holds the incidents themselves.
func TestDenseTilesCluster(t *testing.T) {
	e := newEnv(t)
	const n = 2_100
	// Everything inside one cluster cell of z8: a tile of z14.
	cell := maptile.At(orb.Point{44.41, 33.31}, 14).Bound()
	member := func(i int) orb.Point {
		return orb.Point{cell.Min[0] + (0.1+0.8*float64(i%97)/97)*(cell.Max[0]-cell.Min[0]),
			cell.Min[1] + (0.1+0.8*float64(i%89)/89)*(cell.Max[1]-cell.Min[1])}
	}
	e.importSynthetic(n, 5, func(i int, inc *domain.Incident) { inc.Location = member(i) })
	tile := maptile.At(cell.Center(), 8)
	layers, _ := e.getTile(tileURL(8, int(tile.X), int(tile.Y), ""))
	inc := layerNamed(layers, "incidents")
	if inc == nil || len(inc.features) != 1 || inc.features[0].props["cluster"] != true {
		t.Fatalf("want one cluster, got %+v", inc)
	}
	if got := owned(inc); got != n {
		t.Fatalf("the cluster counts %d, want %d", got, n)
	}
	// The mean of the members, in tile units, to the unit.
	var sx, sy float64
	for i := 1; i <= n; i++ {
		x, y := toUnits(member(i), 8)
		sx, sy = sx+x, sy+y
	}
	p := inc.features[0].points[0]
	wantX, wantY := sx/n-float64(tile.X)*4096, sy/n-float64(tile.Y)*4096
	if math.Abs(float64(p[0])-wantX) > 1 || math.Abs(float64(p[1])-wantY) > 1 {
		t.Errorf("cluster at %v, want about [%.1f %.1f]", p, wantX, wantY)
	}
	deep := maptile.At(member(1), 18)
	layers, _ = e.getTile(tileURL(18, int(deep.X), int(deep.Y), ""))
	if inc := layerNamed(layers, "incidents"); inc == nil || inc.features[0].props["cluster"] != nil {
		t.Fatalf("a z18 tile of a few incidents holds %+v, want single incidents", inc)
	}

	// 1,500 incidents with 200-letter titles in two-byte letters would make
	// a tile of about 700 KB: it holds clusters instead (getTile checks the
	// size).
	const wordy = 1_500
	beirut := maptile.At(orb.Point{35.51, 33.9}, 12)
	b := beirut.Bound()
	e.importSynthetic(wordy, 6, func(i int, inc *domain.Incident) {
		inc.Location = orb.Point{b.Min[0] + (0.1+0.8*float64(i%40)/40)*(b.Max[0]-b.Min[0]), b.Min[1] + (0.1+0.8*float64(i/40)/40)*(b.Max[1]-b.Min[1])}
		inc.Title = fmt.Sprintf("%04d %s", i, strings.Repeat("ش", 195))
		ext := fmt.Sprintf("wordy-%d", i)
		inc.ExternalID = &ext
	})
	layers, _ = e.getTile(tileURL(12, int(beirut.X), int(beirut.Y), ""))
	inc = layerNamed(layers, "incidents")
	if inc == nil || inc.features[0].props["cluster"] != true {
		t.Fatalf("a tile of %d wordy incidents holds %d features, want clusters", wordy, len(inc.features))
	}
	if got := owned(inc); got != wordy {
		t.Errorf("its clusters count %d, want %d", got, wordy)
	}

	// Facilities are never thinned: 800 with 200-character names of
	// four-byte letters made a 671 KB tile; past the budget their names
	// are cut short and every facility stays.
	const posts = 800
	tunis := maptile.At(orb.Point{10.18, 36.8}, 12).Bound()
	for i := range posts {
		e.createFacility(tunis.Min[0]+(0.1+0.8*float64(i%29)/29)*(tunis.Max[0]-tunis.Min[0]),
			tunis.Min[1]+(0.1+0.8*float64(i/29)/29)*(tunis.Max[1]-tunis.Min[1]), fmt.Sprintf("%03d %s", i, strings.Repeat("😀", 196)))
	}
	tile = maptile.At(tunis.Center(), 12)
	layers, r := e.getTile(tileURL(12, int(tile.X), int(tile.Y), ""))
	facs := layerNamed(layers, "facilities")
	if facs == nil || len(facs.features) != posts {
		t.Fatalf("the facilities layer holds %v features, want %d", facs, posts)
	}
	if name, _ := facs.features[0].props["name"].(string); utf8.RuneCountInString(name) > 24 || !strings.HasSuffix(name, "…") {
		t.Errorf("a name over budget is %q, want at most 24 characters ending in …", name)
	}
	if r.Body.Len() > 500<<10 {
		t.Errorf("tile of %d bytes, over 500 KB", r.Body.Len())
	}
}

// TestTileCaching: tiles are gzipped for clients that accept it (never
// twice), carry a strong ETag per encoding that answers If-None-Match with
// 304 until the data changes, and must be revalidated by caches.
func TestTileCaching(t *testing.T) {
	e := newEnv(t)
	e.importSynthetic(500, 3, nil)
	u := tileURL(4, 10, 6, "")
	plainLayers, plain := e.getTile(u)
	if plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("Content-Encoding %q without Accept-Encoding", plain.Header().Get("Content-Encoding"))
	}
	gzLayers, gz := e.getTile(u, "Accept-Encoding", "br;q=1.0, gzip;q=0.8")
	if gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", gz.Header().Get("Content-Encoding"))
	}
	if owned(layerNamed(gzLayers, "incidents")) != owned(layerNamed(plainLayers, "incidents")) || owned(layerNamed(plainLayers, "incidents")) == 0 {
		t.Fatalf("the gzipped tile differs from the plain one")
	}
	_, refused := e.getTile(u, "Accept-Encoding", "gzip;q=0, identity")
	if refused.Header().Get("Content-Encoding") != "" {
		t.Fatalf("gzip;q=0 got Content-Encoding %q", refused.Header().Get("Content-Encoding"))
	}
	for _, r := range []*response{plain, gz} {
		if !strings.Contains(r.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("Vary %q lacks Accept-Encoding", r.Header().Get("Vary"))
		}
		if r.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("Cache-Control %q, want no-cache", r.Header().Get("Cache-Control"))
		}
		if tag := r.Header().Get("ETag"); !strings.HasPrefix(tag, `"`) || len(tag) < 10 {
			t.Errorf("ETag %q is not a strong entity tag", tag)
		}
	}
	plainTag, gzTag := plain.Header().Get("ETag"), gz.Header().Get("ETag")
	if plainTag == gzTag {
		t.Fatalf("one ETag %s for two encodings", plainTag)
	}
	tests := []struct {
		name        string
		ifNoneMatch string
		gzip        bool
		want        int
	}{
		{"same tag", plainTag, false, http.StatusNotModified},
		{"same tag, gzipped", gzTag, true, http.StatusNotModified},
		{"weak comparison", "W/" + plainTag, false, http.StatusNotModified},
		{"one of a list", `"x", ` + plainTag, false, http.StatusNotModified},
		{"star", "*", false, http.StatusNotModified},
		{"the other encoding's tag", gzTag, false, http.StatusOK},
		{"another tag", `"other"`, false, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := []string{"If-None-Match", tt.ifNoneMatch}
			if tt.gzip {
				h = append(h, "Accept-Encoding", "gzip")
			}
			r := e.in(t).do("GET", u, nil, domain.RoleAnalyst, h...).wantStatus(tt.want)
			want := plainTag
			if tt.gzip {
				want = gzTag
			}
			if r.Header().Get("ETag") != want || tt.want == http.StatusNotModified && r.Body.Len() != 0 {
				t.Errorf("%d with %d bytes and ETag %q, want ETag %s", r.Code, r.Body.Len(), r.Header().Get("ETag"), want)
			}
		})
	}
	b := maptile.New(10, 6, 4).Bound()
	e.createIncident(b.Center()[0], b.Center()[1], nil)
	r := e.do("GET", u, nil, domain.RoleAnalyst, "If-None-Match", plainTag).wantStatus(http.StatusOK)
	if r.Header().Get("ETag") == plainTag {
		t.Fatalf("the ETag stayed %s after a write in the tile", plainTag)
	}
}

// TestTileJSON: /tiles.json describes the tiles as TileJSON 3.0.0, with a
// tiles URL that carries the request's filters and access_token and serves
// the same tiles as the route itself.
func TestTileJSON(t *testing.T) {
	e := newEnv(t)
	e.createFacility(47.6625, 30.5489, "U.S. Consulate General Basrah")
	e.createIncident(44.4, 33.3, map[string]any{"type": "protest"})
	e.createIncident(47.665, 30.55, nil)
	token := e.tokens[domain.RoleAnalyst]
	r := e.do("GET", "/tiles.json?type=protest&access_token="+url.QueryEscape(token), nil, "").wantStatus(http.StatusOK)
	doc := r.json()
	if doc["tilejson"] != "3.0.0" || doc["minzoom"] != 0.0 || doc["maxzoom"] != 22.0 {
		t.Fatalf("tilejson %v, minzoom %v, maxzoom %v", doc["tilejson"], doc["minzoom"], doc["maxzoom"])
	}
	bounds, _ := doc["bounds"].([]any)
	if len(bounds) != 4 || bounds[0].(float64) > 44.4 || bounds[2].(float64) < 47.6625 || bounds[1].(float64) > 30.5489 || bounds[3].(float64) < 33.3 {
		t.Errorf("bounds %v do not hold the data", doc["bounds"])
	}
	// As written: at most 7 decimals, as every coordinate (the R*Tree's
	// padded extent came out as 60.992000000000004).
	raw := regexp.MustCompile(`"bounds":\[([^\]]*)\]`).FindStringSubmatch(r.Body.String())
	if raw == nil {
		t.Fatalf("no bounds in %s", r.Body.String())
	}
	for _, v := range strings.Split(raw[1], ",") {
		if _, frac, _ := strings.Cut(v, "."); len(frac) > 7 {
			t.Errorf("bounds value %s has more than 7 decimals", v)
		}
	}
	tiles, _ := doc["tiles"].([]any)
	if len(tiles) != 1 {
		t.Fatalf("tiles %v", doc["tiles"])
	}
	tmpl := tiles[0].(string)
	if !strings.HasPrefix(tmpl, "http://example.com/tiles/{z}/{x}/{y}.mvt?") {
		t.Fatalf("tiles URL %q is not an absolute template", tmpl)
	}
	parsed, err := url.Parse(strings.NewReplacer("{z}", "0", "{x}", "0", "{y}", "0").Replace(tmpl))
	if err != nil || parsed.Query().Get("type") != "protest" || parsed.Query().Get("access_token") != token {
		t.Fatalf("tiles URL %q does not carry the filters and the token (%v)", tmpl, err)
	}
	fields := map[string][]string{
		"incidents":  {"id", "type", "title", "severity", "occurred_at", "cluster", "point_count", "max_severity"},
		"facilities": {"id", "name", "kind", "posture"},
	}
	layers, _ := doc["vector_layers"].([]any)
	if len(layers) != len(fields) {
		t.Fatalf("vector_layers %v", doc["vector_layers"])
	}
	for _, l := range layers {
		l := l.(map[string]any)
		fs, _ := l["fields"].(map[string]any)
		for _, name := range fields[l["id"].(string)] {
			if d, _ := fs[name].(string); d == "" {
				t.Errorf("layer %v: field %s missing or not described", l["id"], name)
			}
		}
	}
	// The template's tile is the route's tile under the same filters.
	viaTemplate := e.do("GET", parsed.RequestURI(), nil, "").wantStatus(http.StatusOK)
	direct := e.do("GET", tileURL(0, 0, 0, "type=protest"), nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	if !bytes.Equal(viaTemplate.Body.Bytes(), direct.Body.Bytes()) {
		t.Errorf("the template's tile differs from the route's")
	}
	e.do("GET", "/tiles.json?severity_min=9", nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "severity_min")
	e.do("GET", "/tiles.json", nil, "").wantStatus(http.StatusUnauthorized)
}
