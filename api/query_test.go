package api_test

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// with returns the env reporting to t, so helpers fail the subtest that
// calls them rather than its parent.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// items GETs an items URL as an analyst and returns the decoded body.
func (e *env) items(url string) map[string]any {
	e.t.Helper()
	return e.do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()
}

func featuresOf(body map[string]any) []map[string]any {
	var out []map[string]any
	for _, f := range body["features"].([]any) {
		out = append(out, f.(map[string]any))
	}
	return out
}

func idsOf(body map[string]any) []int64 {
	var out []int64
	for _, f := range featuresOf(body) {
		out = append(out, int64(f["id"].(float64)))
	}
	return out
}

// nextLink returns the path and query of the next link, or "" if none.
func nextLink(t *testing.T, body map[string]any) string {
	t.Helper()
	for _, l := range body["links"].([]any) {
		l := l.(map[string]any)
		if l["rel"] != "next" {
			continue
		}
		u, err := url.Parse(l["href"].(string))
		if err != nil {
			t.Fatalf("next href %q: %v", l["href"], err)
		}
		return u.RequestURI()
	}
	return ""
}

// wantSet fails unless the items at url are exactly want, in any order.
func (e *env) wantSet(url string, want ...int64) {
	e.t.Helper()
	got := slices.Sorted(slices.Values(e.ids(url)))
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		e.t.Fatalf("GET %s returned ids %v, want %v", url, got, want)
	}
}

// named maps fixture names to ids.
type named map[string]int64

func (n named) ids(names ...string) []int64 {
	out := make([]int64, len(names))
	for i, name := range names {
		id, ok := n[name]
		if !ok {
			panic("no fixture named " + name)
		}
		out[i] = id
	}
	return out
}

func TestItemsBBox(t *testing.T) {
	e := newEnv(t)
	points := map[string]orb.Point{
		// Around the box 10,20,30,40: on each edge and corner, and 1e-6°
		// outside each edge.
		"west edge": {10, 30}, "east edge": {30, 30}, "south edge": {20, 20}, "north edge": {20, 40},
		"sw corner": {10, 20}, "ne corner": {30, 40}, "centre": {20, 30},
		"west out": {9.999999, 30}, "east out": {30.000001, 30}, "south out": {20, 19.999999}, "north out": {20, 40.000001},
		// Around the antimeridian.
		"175": {175, 0}, "-175": {-175, 5}, "180": {180, -10}, "-180": {-180, 10},
		"0": {0, 0}, "169.9": {169.9, 0}, "-169.9": {-169.9, 0}, "175 north": {175, 10.5},
	}
	ids := named{}
	for name, p := range points {
		ids[name] = e.createIncident(p[0], p[1], map[string]any{"title": name})
	}
	tests := []struct {
		name string
		bbox string
		want []string
	}{
		{"edges are inside, 1e-6° beyond is out", "10,20,30,40",
			[]string{"west edge", "east edge", "south edge", "north edge", "sw corner", "ne corner", "centre"}},
		{"spaces around the numbers", "10, 20, 30, 40",
			[]string{"west edge", "east edge", "south edge", "north edge", "sw corner", "ne corner", "centre"}},
		{"box of zero width on the west edge", "10,20,10,40", []string{"west edge", "sw corner"}},
		{"a hair wider takes the outside points", "9.999999,19.999999,30.000001,40.000001",
			[]string{"west edge", "east edge", "south edge", "north edge", "sw corner", "ne corner", "centre",
				"west out", "east out", "south out", "north out"}},
		{"antimeridian box", "170,-10,-170,10", []string{"175", "-175", "180", "-180"}},
		{"antimeridian box, east part only by latitude", "170,-1,-170,1", []string{"175"}},
		{"box ending on 180", "175,0,180,10", []string{"175", "-180"}},
		{"box starting on -180", "-180,-10,-175,10", []string{"-175", "180", "-180"}},
		{"whole world", "-180,-90,180,90", slices.Collect(maps.Keys(points))},
		{"empty region", "-10,-10,-5,-5", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			e.wantSet("/collections/incidents/items?limit=1000&bbox="+url.QueryEscape(tt.bbox), ids.ids(tt.want...)...)
		})
	}

	t.Run("facilities across the antimeridian", func(t *testing.T) {
		e := e.with(t)
		fiji := e.createFacility(178.44, -18.14, "Suva")
		samoa := e.createFacility(-171.76, -13.83, "Apia")
		e.createFacility(151.21, -33.87, "Sydney")
		e.wantSet("/collections/facilities/items?bbox=170,-20,-170,-10", fiji, samoa)
	})

	bad := []struct {
		name, bbox string
	}{
		{"min latitude above max latitude", "0,10,1,5"},
		{"three numbers", "1,2,3"},
		{"five numbers", "1,2,3,4,5"},
		{"six numbers (3D)", "1,2,0,3,4,10"},
		{"not numbers", "a,b,c,d"},
		{"one word", "iraq"},
		{"empty", ""},
		{"empty member", "1,,3,4"},
		{"latitude 91", "0,0,1,91"},
		{"latitude -91", "0,-91,1,0"},
		{"longitude 181", "0,0,181,1"},
		{"longitude -180.5", "-180.5,0,1,1"},
		{"NaN", "NaN,0,1,1"},
		{"infinity", "0,0,Inf,1"},
		{"overflow", "0,0,1e400,1"},
	}
	for _, tt := range bad {
		t.Run("400 "+tt.name, func(t *testing.T) {
			e := e.with(t)
			e.do("GET", "/collections/incidents/items?bbox="+url.QueryEscape(tt.bbox), nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "bbox")
			e.do("GET", "/collections/facilities/items?bbox="+url.QueryEscape(tt.bbox), nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "bbox")
		})
	}
}

func TestItemsNear(t *testing.T) {
	e := newEnv(t)
	at := func(c orb.Point, bearing, m float64) orb.Point {
		return orbgeo.PointAtBearingAndDistance(c, bearing, m)
	}
	equator := orb.Point{44, 0}
	north80 := orb.Point{15, 80}
	dateline := orb.Point{179.99, 0}
	pole := orb.Point{0, 89.99}
	southPole := orb.Point{0, -89.99}
	points := map[string]orb.Point{
		"eq centre":   equator,
		"eq 1km N":    at(equator, 0, 1000),
		"eq 4.9km E":  at(equator, 90, 4900),
		"eq 5.1km SW": at(equator, 225, 5100),
		// 0.045° north of the equator: 4,975.8 m along the ellipsoid
		// (PostGIS), 5,003.8 m on orb's sphere, which left it out.
		"eq 0.045N": {44, 0.045},

		"80 4.5km E": at(north80, 90, 4500),
		"80 5.5km E": at(north80, 90, 5500),
		"80 4.9km W": at(north80, 270, 4900),

		"dl -179.99": {-179.99, 0}, // 0.02° of arc: 2226 m
		"dl 179.9":   {179.9, 0},   // 0.09°: 10 km
		"dl -179.9":  {-179.9, 0},  // 0.11°: 12.2 km

		"pole across":  {180, 89.99},  // through the pole: 0.02°, 2226 m
		"pole 90E":     {90, 89.99},   // 0.01°·√2: 1574 m
		"pole 89.9":    {0, 89.9},     // 0.09°: 10 km
		"pole far":     {-135, 89.96}, // √(0.01²+0.04²+2·0.01·0.04·cos45°) = 0.0476°: 5299 m
		"south across": {180, -89.99},
	}
	// Longitude degrees are short at 80°: the point 4.5 km east lies about
	// 0.23° east, five times what 5 km spans at the equator, so a
	// prefilter in plain degrees would lose it.
	if d := points["80 4.5km E"][0] - north80[0]; d < 0.2 {
		t.Fatalf("fixture: 4.5 km east at 80° is only %.4f° of longitude", d)
	}
	if d := orbgeo.DistanceHaversine(pole, points["pole far"]); math.Abs(d-5299) > 10 {
		t.Fatalf("fixture: pole far is %.1f m from the centre, hand computation says 5299 m", d)
	}
	ids := named{}
	for name, p := range points {
		ids[name] = e.createIncident(p[0], p[1], map[string]any{"title": name})
	}
	tests := []struct {
		name   string
		center orb.Point
		radius string // "" for the default
		want   []string
	}{
		{"equator, default radius 5000", equator, "", []string{"eq centre", "eq 1km N", "eq 4.9km E", "eq 0.045N"}},
		{"equator, 4975 m", equator, "4975", []string{"eq centre", "eq 1km N", "eq 4.9km E"}},
		{"equator, 2 km", equator, "2000", []string{"eq centre", "eq 1km N"}},
		{"equator, 0 m keeps only the centre", equator, "0", []string{"eq centre"}},
		{"equator, 5200 m", equator, "5200", []string{"eq centre", "eq 1km N", "eq 4.9km E", "eq 5.1km SW", "eq 0.045N"}},
		{"latitude 80, default radius", north80, "", []string{"80 4.5km E", "80 4.9km W"}},
		{"latitude 80, 6 km", north80, "6000", []string{"80 4.5km E", "80 4.9km W", "80 5.5km E"}},
		{"antimeridian, default radius", dateline, "", []string{"dl -179.99"}},
		{"antimeridian, 13 km", dateline, "13000", []string{"dl -179.99", "dl 179.9", "dl -179.9"}},
		{"antimeridian from the west side", orb.Point{-179.99, 0}, "3000", []string{"dl -179.99"}},
		{"north pole, default radius", pole, "", []string{"pole across", "pole 90E"}},
		{"north pole, 5400 m", pole, "5400", []string{"pole across", "pole 90E", "pole far"}},
		{"north pole itself", orb.Point{0, 90}, "", []string{"pole across", "pole 90E", "pole far"}},
		{"south pole", southPole, "", []string{"south across"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			u := fmt.Sprintf("/collections/incidents/items?limit=1000&near=%v,%v", tt.center[0], tt.center[1])
			if tt.radius != "" {
				u += "&radius=" + tt.radius
			}
			e.wantSet(u, ids.ids(tt.want...)...)
			for _, f := range featuresOf(e.items(u)) {
				title := f["properties"].(map[string]any)["title"].(string)
				got, ok := f["properties"].(map[string]any)["distance_m"].(float64)
				if !ok {
					t.Fatalf("%s has no numeric properties.distance_m", title)
				}
				want := geo.Distance(tt.center, points[title])
				if math.Abs(got-want) > 0.051 { // written to 0.1 m
					t.Errorf("%s: distance_m %.2f, geo.Distance says %.2f", title, got, want)
				}
			}
		})
	}

	// The WGS 84 geodesic, as PostGIS's ST_Distance(geography) gives it
	// for the same coordinates: the fixtures are placed on orb's sphere,
	// so "1 km north" of the equator is 993.3 m along the ellipsoid.
	t.Run("distances as PostGIS measures them", func(t *testing.T) {
		e := e.with(t)
		for _, c := range []struct {
			near  orb.Point
			title string
			want  float64
		}{
			{dateline, "dl -179.99", 2226.390},
			{pole, "pole across", 2233.880},
			{equator, "eq 1km N", 993.306},
			{equator, "eq 0.045N", 4975.842},
			{north80, "80 4.5km E", 4514.680},
		} {
			body := e.items(fmt.Sprintf("/collections/incidents/items?near=%v,%v", c.near[0], c.near[1]))
			found := false
			for _, f := range featuresOf(body) {
				p := f["properties"].(map[string]any)
				if p["title"] == c.title {
					found = true
					if got := p["distance_m"].(float64); math.Abs(got-c.want) > 0.051 { // written to 0.1 m
						t.Errorf("%s: distance_m %.2f, want %.2f", c.title, got, c.want)
					}
				}
			}
			if !found {
				t.Errorf("%s not found near %v", c.title, c.near)
			}
		}
	})

	t.Run("no distance_m without near", func(t *testing.T) {
		e := e.with(t)
		for _, f := range featuresOf(e.items("/collections/incidents/items")) {
			if _, ok := f["properties"].(map[string]any)["distance_m"]; ok {
				t.Fatalf("feature %v carries distance_m without near", f["id"])
			}
		}
	})

	t.Run("near and bbox combine with AND", func(t *testing.T) {
		e := e.with(t)
		// The box keeps the northern half of the equator circle.
		e.wantSet("/collections/incidents/items?near=44,0&radius=5200&bbox=43,0.001,45,1", ids.ids("eq 1km N", "eq 0.045N")...)
		e.wantSet("/collections/incidents/items?near=44,0&radius=5200&bbox=43.5,-1,45,1", ids.ids("eq centre", "eq 1km N", "eq 4.9km E", "eq 5.1km SW", "eq 0.045N")...)
		e.wantSet("/collections/incidents/items?near=179.99,0&radius=13000&bbox=179,-1,179.95,1", ids.ids("dl 179.9")...)
	})

	t.Run("facilities near the antimeridian", func(t *testing.T) {
		e := e.with(t)
		id := e.createFacility(-179.99, 0, "Date line post")
		body := e.items("/collections/facilities/items?near=179.99,0")
		if got := idsOf(body); !slices.Equal(got, []int64{id}) {
			t.Fatalf("facilities near the antimeridian: %v, want [%d]", got, id)
		}
		if d := featuresOf(body)[0]["properties"].(map[string]any)["distance_m"].(float64); math.Abs(d-2226.4) > 1 {
			t.Fatalf("distance_m %.2f, want about 2226.4", d)
		}
	})

	bad := []struct {
		name, query, field string
	}{
		{"radius without near", "radius=100", "radius"},
		{"negative radius", "near=44,0&radius=-1", "radius"},
		{"radius not a number", "near=44,0&radius=far", "radius"},
		{"radius NaN", "near=44,0&radius=NaN", "radius"},
		{"radius infinite", "near=44,0&radius=Inf", "radius"},
		{"radius beyond the maximum", "near=44,0&radius=1e12", "radius"},
		{"near with one number", "near=44", "near"},
		{"near with three numbers", "near=44,0,1", "near"},
		{"near not numbers", "near=east,north", "near"},
		{"near longitude 200", "near=200,0", "near"},
		{"near latitude 91", "near=0,91", "near"},
		{"near empty", "near=", "near"},
		{"radius empty", "near=44,0&radius=", "radius"},
	}
	for _, tt := range bad {
		t.Run("400 "+tt.name, func(t *testing.T) {
			e := e.with(t)
			e.do("GET", "/collections/incidents/items?"+tt.query, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, tt.field)
			e.do("GET", "/collections/facilities/items?"+tt.query, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, tt.field)
		})
	}
}

func TestItemsDatetime(t *testing.T) {
	e := newEnv(t)
	times := []string{
		"2018-08-31T23:59:59Z",
		"2018-09-01T00:00:00Z",
		"2018-09-06T23:59:59.999Z",
		"2018-09-07T00:00:00Z",
		"2018-09-07T12:00:00Z",
		"2018-09-07T23:59:59.999Z",
		"2018-09-08T00:00:00Z",
		"2020-01-01T00:00:00Z",
	}
	ids := named{}
	for i, ts := range times {
		ids[ts] = e.createIncident(44+float64(i)/100, 33, map[string]any{"occurred_at": ts})
	}
	tests := []struct {
		name, datetime string
		want           []string
	}{
		{"instant", "2018-09-07T12:00:00Z", []string{"2018-09-07T12:00:00Z"}},
		{"instant with an offset", "2018-09-07T14:00:00+02:00", []string{"2018-09-07T12:00:00Z"}},
		{"instant with milliseconds", "2018-09-07T23:59:59.999Z", []string{"2018-09-07T23:59:59.999Z"}},
		{"instant matching nothing", "2018-09-07T12:00:01Z", nil},
		{"closed interval, ends included", "2018-09-07T00:00:00Z/2018-09-07T12:00:00Z",
			[]string{"2018-09-07T00:00:00Z", "2018-09-07T12:00:00Z"}},
		{"interval of one instant", "2018-09-08T00:00:00Z/2018-09-08T00:00:00Z", []string{"2018-09-08T00:00:00Z"}},
		{"open start", "../2018-09-07T00:00:00Z",
			[]string{"2018-08-31T23:59:59Z", "2018-09-01T00:00:00Z", "2018-09-06T23:59:59.999Z", "2018-09-07T00:00:00Z"}},
		{"open end", "2018-09-08T00:00:00Z/..", []string{"2018-09-08T00:00:00Z", "2020-01-01T00:00:00Z"}},
		{"empty open end", "2018-09-08T00:00:00Z/", []string{"2018-09-08T00:00:00Z", "2020-01-01T00:00:00Z"}},
		{"empty open start", "/2018-09-01T00:00:00Z", []string{"2018-08-31T23:59:59Z", "2018-09-01T00:00:00Z"}},
		{"whole day", "2018-09-07",
			[]string{"2018-09-07T00:00:00Z", "2018-09-07T12:00:00Z", "2018-09-07T23:59:59.999Z"}},
		{"date interval takes all of its last day", "2018-09-01/2018-09-07",
			[]string{"2018-09-01T00:00:00Z", "2018-09-06T23:59:59.999Z", "2018-09-07T00:00:00Z", "2018-09-07T12:00:00Z", "2018-09-07T23:59:59.999Z"}},
		{"one-day date interval", "2018-09-07/2018-09-07",
			[]string{"2018-09-07T00:00:00Z", "2018-09-07T12:00:00Z", "2018-09-07T23:59:59.999Z"}},
		{"open end from a date", "2018-09-07/..",
			[]string{"2018-09-07T00:00:00Z", "2018-09-07T12:00:00Z", "2018-09-07T23:59:59.999Z", "2018-09-08T00:00:00Z", "2020-01-01T00:00:00Z"}},
		{"open start to a date", "../2018-09-01",
			[]string{"2018-08-31T23:59:59Z", "2018-09-01T00:00:00Z"}},
		{"timestamp to a date", "2018-09-07T12:00:00Z/2018-09-07",
			[]string{"2018-09-07T12:00:00Z", "2018-09-07T23:59:59.999Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			e.wantSet("/collections/incidents/items?datetime="+url.QueryEscape(tt.datetime), ids.ids(tt.want...)...)
		})
	}
	bad := []string{
		"garbage",
		"2018-09-08T00:00:00Z/2018-09-07T00:00:00Z", // ends before it starts
		"2018-09-08/2018-09-07",
		"2018-09-07T12:00:00Z/2018-09-06",
		"../..",
		"/",
		"..",
		"2018-13-01",
		"2018-09-31",
		"2018-09-07T25:00:00Z",
		"2018-09-07T12:00:00",  // no zone
		"2018-09-07 12:00:00Z", // space for T
		"2018-09-07/garbage",
		"garbage/2018-09-07",
		"2018-09-01/2018-09-05/2018-09-07",
		"",
	}
	for _, v := range bad {
		t.Run("400 "+v, func(t *testing.T) {
			e := e.with(t)
			e.do("GET", "/collections/incidents/items?datetime="+url.QueryEscape(v), nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "datetime")
		})
	}
}

func TestItemsFilters(t *testing.T) {
	e := newEnv(t)
	f1 := e.createFacility(47.78, 30.5, "Basrah consulate")
	f2 := e.createFacility(35.5, 33.9, "Beirut embassy")
	for _, id := range []string{"militia-x", "militia-y"} {
		e.do("POST", "/actors", map[string]any{"id": id, "name": "Militia " + id, "kind": "militia"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	actor := func(id, role string) map[string]any { return map[string]any{"actor_id": id, "role": role} }
	fixtures := []struct {
		name  string
		props map[string]any
	}{
		{"i1", map[string]any{"type": "drone", "status": "confirmed", "country": "IQ", "facility_id": f1, "severity": 2,
			"title": "Drone over the residence", "description": "quadcopter seen at dawn", "occurred_at": "2018-09-01T00:00:00Z",
			"actors": []any{actor("militia-x", "perpetrator")}}},
		{"i2", map[string]any{"type": "indirect_fire", "status": "reported", "country": "IQ", "facility_id": f1, "severity": 4,
			"title": "Rockets hit the consulate compound", "description": "three katyusha rockets fired by Kata'ib Hezbollah at al-Asad", "occurred_at": "2018-09-03T00:00:00Z",
			"actors": []any{actor("militia-y", "perpetrator")}}},
		{"i3", map[string]any{"type": "protest", "status": "confirmed", "country": "LB", "facility_id": f2, "severity": 1,
			"title": "Protest at the embassy gate", "description": "crowd burned tyres near the residence", "occurred_at": "2018-09-02T00:00:00Z"}},
		{"i4", map[string]any{"type": "ied", "status": "disputed", "country": "SY", "severity": 5,
			"title": "Roadside bomb on the convoy route", "description": "", "occurred_at": "2018-09-05T00:00:00Z",
			"actors": []any{actor("militia-x", "suspected"), actor("militia-y", "target")}}},
		{"i5", map[string]any{"type": "drone", "status": "retracted", "country": "LB", "severity": 3,
			"title": "Drone sighting", "description": "not confirmed", "occurred_at": "2018-09-04T00:00:00Z"}},
	}
	ids := named{}
	for i, fx := range fixtures {
		ids[fx.name] = e.createIncident(40+float64(i), 30, fx.props)
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"no filter", "", []string{"i1", "i2", "i3", "i4", "i5"}},
		{"type", "type=drone", []string{"i1", "i5"}},
		{"type list is OR", "type=drone,ied", []string{"i1", "i4", "i5"}},
		{"type list with spaces", "type=drone,%20ied", []string{"i1", "i4", "i5"}},
		{"type with no match", "type=cyber", nil},
		{"status", "status=confirmed", []string{"i1", "i3"}},
		{"status list", "status=confirmed,disputed", []string{"i1", "i3", "i4"}},
		{"country", "country=LB", []string{"i3", "i5"}},
		{"country in lower case", "country=lb", []string{"i3", "i5"}},
		{"country list", "country=IQ,SY", []string{"i1", "i2", "i4"}},
		{"facility", fmt.Sprintf("facility=%d", f1), []string{"i1", "i2"}},
		{"facility list", fmt.Sprintf("facility=%d,%d", f1, f2), []string{"i1", "i2", "i3"}},
		{"facility that no incident names", "facility=999999", nil},
		{"severity_min 1 keeps all", "severity_min=1", []string{"i1", "i2", "i3", "i4", "i5"}},
		{"severity_min 3", "severity_min=3", []string{"i2", "i4", "i5"}},
		{"severity_min 5", "severity_min=5", []string{"i4"}},
		{"q in titles", "q=drone", []string{"i1", "i5"}},
		{"q in titles and descriptions", "q=residence", []string{"i1", "i3"}},
		{"q in descriptions", "q=katyusha", []string{"i2"}},
		{"q words all required", "q=drone+residence", []string{"i1"}},
		{"q words in any order", "q=residence+drone", []string{"i1"}},
		{"q ignores case", "q=ROCKETS", []string{"i2"}},
		{"q words split across title and description", "q=rockets+compound+katyusha", []string{"i2"}},
		{"q with no match", "q=helicopter", nil},
		{"q with a hyphenated word", "q=al-Asad", []string{"i2"}},
		{"q with an apostrophe", "q=Kata%27ib", []string{"i2"}},
		{"q with a word part", "q=asad", []string{"i2"}},
		{"q with an underscore", "q=drone_residence", []string{"i1"}},
		{"q with FTS syntax is taken literally", "q=drone+OR+helicopter", nil},
		{"q with a quote", "q=%22drone", []string{"i1", "i5"}},
		{"q with a star", "q=dro*", nil},
		{"q with a minus", "q=-drone", []string{"i1", "i5"}},
		{"q with parentheses", "q=(drone)", []string{"i1", "i5"}},
		{"q with NEAR", "q=NEAR+drone", nil},
		{"q with a column filter", "q=title:drone", nil},
		{"q of spaces only is no filter", "q=%20%20", []string{"i1", "i2", "i3", "i4", "i5"}},
		{"actor, any role", "actor=militia-x", []string{"i1", "i4"}},
		{"actor named as target", "actor=militia-y", []string{"i2", "i4"}},
		{"actor list", "actor=militia-x,militia-y", []string{"i1", "i2", "i4"}},
		{"actor explicitly direct", "actor=militia-x&attribution=direct", []string{"i1", "i4"}},
		{"actor unknown", "actor=nobody", nil},
		{"type AND status", "type=drone&status=confirmed", []string{"i1"}},
		{"type list AND country", "type=drone,protest&country=LB", []string{"i3", "i5"}},
		{"type AND severity_min", "type=drone&severity_min=3", []string{"i5"}},
		{"facility AND q", fmt.Sprintf("facility=%d&q=rockets", f1), []string{"i2"}},
		{"actor AND type", "actor=militia-x&type=ied", []string{"i4"}},
		{"actor list AND status list", "actor=militia-x,militia-y&status=reported,disputed", []string{"i2", "i4"}},
		{"bbox AND type", "bbox=39.5,29,41.5,31&type=drone", []string{"i1"}},
		{"datetime AND country", "datetime=2018-09-02/2018-09-04&country=LB", []string{"i3", "i5"}},
		{"everything at once", fmt.Sprintf("type=indirect_fire,drone&status=reported,confirmed&country=IQ&facility=%d&severity_min=2&q=rockets&actor=militia-y&bbox=40,29,42,31&datetime=2018-09-03", f1), []string{"i2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			e.wantSet("/collections/incidents/items?"+tt.query, ids.ids(tt.want...)...)
			if got := e.count("/collections/incidents/items?" + tt.query); got != len(tt.want) {
				t.Fatalf("numberMatched %d, want %d", got, len(tt.want))
			}
		})
	}

	sorts := []struct {
		sortby string
		want   []string
	}{
		// occurred_at: i1 09-01, i3 09-02, i2 09-03, i5 09-04, i4 09-05.
		// severity:    i3 1, i1 2, i5 3, i2 4, i4 5.
		{"", []string{"i4", "i5", "i2", "i3", "i1"}},
		{"-occurred_at", []string{"i4", "i5", "i2", "i3", "i1"}},
		{"occurred_at", []string{"i1", "i3", "i2", "i5", "i4"}},
		{"severity", []string{"i3", "i1", "i5", "i2", "i4"}},
		{"-severity", []string{"i4", "i2", "i5", "i1", "i3"}},
		// type: drone i1, i5; ied i4; indirect_fire i2; protest i3.
		{"type,-severity", []string{"i5", "i1", "i4", "i2", "i3"}},
		{"%2Btype,-occurred_at", []string{"i5", "i1", "i4", "i2", "i3"}},
		{"-country,title", []string{"i4", "i5", "i3", "i1", "i2"}},
		{"title", []string{"i1", "i5", "i3", "i4", "i2"}},
		{"-id", []string{"i5", "i4", "i3", "i2", "i1"}},
	}
	for _, tt := range sorts {
		t.Run("sortby "+tt.sortby, func(t *testing.T) {
			e := e.with(t)
			u := "/collections/incidents/items"
			if tt.sortby != "" {
				u += "?sortby=" + tt.sortby
			}
			if got, want := e.ids(u), ids.ids(tt.want...); !slices.Equal(got, want) {
				t.Fatalf("order %v, want %v", got, want)
			}
		})
	}

	bad := []struct {
		name, query, field string
	}{
		{"unknown type", "type=laser", "type"},
		{"one bad type in a list", "type=drone,laser", "type"},
		{"empty type", "type=", "type"},
		{"type in the wrong case", "type=DRONE", "type"},
		{"unknown status", "status=bogus", "status"},
		{"country of three letters", "country=IRQ", "country"},
		{"country with a digit", "country=I1", "country"},
		{"country AB, unassigned", "country=IQ,AB", "country"},
		{"empty country entry", "country=IQ,", "country"},
		{"facility not an id", "facility=basrah", "facility"},
		{"facility zero", "facility=0", "facility"},
		{"severity_min 0", "severity_min=0", "severity_min"},
		{"severity_min 6", "severity_min=6", "severity_min"},
		{"severity_min not a number", "severity_min=high", "severity_min"},
		{"attribution unknown", "actor=militia-x&attribution=maybe", "attribution"},
		{"attribution list", "actor=militia-x&attribution=direct,chain", "attribution"},
		{"sortby unknown", "sortby=bogus", "sortby"},
		{"sortby a real column that is no sort key", "sortby=description", "sortby"},
		{"sortby a key twice", "sortby=severity,-severity", "sortby"},
		{"sortby two signs", "sortby=--severity", "sortby"},
		{"sortby an empty term", "sortby=severity,", "sortby"},
		{"undeclared parameter", "colour=red", "colour"},
		{"undeclared parameter beside good ones", "type=drone&colour=red", "colour"},
		{"parameter name in the wrong case", "TYPE=drone", "TYPE"},
	}
	for _, tt := range bad {
		t.Run("400 "+tt.name, func(t *testing.T) {
			e := e.with(t)
			e.do("GET", "/collections/incidents/items?"+tt.query, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, tt.field)
		})
	}
	t.Run("400 undeclared parameter on facilities", func(t *testing.T) {
		e := e.with(t)
		e.do("GET", "/collections/facilities/items?colour=red", nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "colour")
	})
}

// walk follows next links from first until there is none and returns the
// ids in the order served. between runs after each page but the last.
func (e *env) walk(first string, limit int, between func(page int)) []int64 {
	e.t.Helper()
	var out []int64
	u := first
	for page := 1; u != ""; page++ {
		if page > 200 {
			e.t.Fatalf("more than 200 pages from %s", first)
		}
		body := e.items(u)
		got := idsOf(body)
		if n := int(body["numberReturned"].(float64)); n != len(got) {
			e.t.Fatalf("page %d: numberReturned %d but %d features", page, n, len(got))
		}
		if len(got) == 0 || len(got) > limit {
			e.t.Fatalf("page %d (%s) has %d features, want 1..%d", page, u, len(got), limit)
		}
		out = append(out, got...)
		u = nextLink(e.t, body)
		if u != "" && len(got) != limit {
			e.t.Fatalf("page %d is short (%d) but has a next link", page, len(got))
		}
		if u != "" && between != nil {
			between(page)
		}
	}
	return out
}

func TestItemsPaging(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC)
	const total = 105
	for i := 0; i < total; i++ {
		typ := "indirect_fire"
		if i%4 == 0 {
			typ = "protest"
		}
		// Triples share an occurred_at, so the id must break ties.
		e.createIncident(44, 33, map[string]any{
			"type": typ, "severity": 1 + i%5,
			"occurred_at": base.Add(time.Duration(i/3) * time.Hour).Format(time.RFC3339),
		})
	}

	t.Run("defaults", func(t *testing.T) {
		e := e.with(t)
		body := e.items("/collections/incidents/items")
		if n := body["numberMatched"].(float64); n != total {
			t.Fatalf("numberMatched %v, want %d", n, total)
		}
		if n := body["numberReturned"].(float64); n != domain.DefaultLimit || len(featuresOf(body)) != domain.DefaultLimit {
			t.Fatalf("numberReturned %v with %d features, want %d", n, len(featuresOf(body)), domain.DefaultLimit)
		}
		ts, ok := body["timeStamp"].(string)
		if !ok {
			t.Fatal("no timeStamp")
		}
		if when, err := time.Parse(time.RFC3339, ts); err != nil || time.Since(when) > time.Minute || time.Until(when) > time.Minute {
			t.Fatalf("timeStamp %q is not a current RFC 3339 time", ts)
		}
		if nextLink(t, body) == "" {
			t.Fatal("no next link while 5 incidents remain")
		}
	})

	t.Run("limit above the maximum is clamped", func(t *testing.T) {
		e := e.with(t)
		body := e.items("/collections/incidents/items?limit=100000")
		if n := int(body["numberReturned"].(float64)); n != total || n > domain.MaxLimit {
			t.Fatalf("numberReturned %d, want %d", n, total)
		}
		if nextLink(t, body) != "" {
			t.Fatal("next link on a page holding everything")
		}
		p, err := api.ParsePage(url.Values{"limit": {"100000"}})
		if err != nil || p.Limit != domain.MaxLimit {
			t.Fatalf("ParsePage(limit=100000) = %+v, %v; want limit %d", p, err, domain.MaxLimit)
		}
	})

	for _, bad := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=-1", "limit"}, {"limit=abc", "limit"}, {"limit=1.5", "limit"}, {"limit=", "limit"},
		{"offset=-1", "offset"}, {"offset=x", "offset"}, {"offset=", "offset"}, {"cursor=", "cursor"},
	} {
		t.Run("400 "+bad.query, func(t *testing.T) {
			e := e.with(t)
			e.do("GET", "/collections/incidents/items?"+bad.query, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, bad.field)
		})
	}

	walks := []struct {
		name, query string
		limit       int
	}{
		{"default sort", "", 5},
		{"occurred_at", "sortby=occurred_at", 5},
		{"severity (many ties)", "sortby=severity", 5},
		{"-severity", "sortby=-severity", 7},
		{"with a filter", "type=indirect_fire", 5},
		{"with a filter and sort", "type=protest&sortby=-severity", 4},
		{"limit 1", "sortby=severity", 1},
		{"limit 104", "", 104},
		{"two keys in mixed directions", "sortby=type,-severity", 3},
		{"three keys", "sortby=-country,severity,title", 4},
		{"text key with ties", "sortby=-title", 6},
		{"updated_at", "sortby=-updated_at", 5},
		{"id", "sortby=id", 9},
	}
	for _, w := range walks {
		t.Run("walk next links, "+w.name, func(t *testing.T) {
			e := e.with(t)
			all := e.ids("/collections/incidents/items?limit=10000&" + w.query)
			got := e.walk(fmt.Sprintf("/collections/incidents/items?limit=%d&%s", w.limit, w.query), w.limit, nil)
			if !slices.Equal(got, all) {
				t.Fatalf("walking pages of %d gave\n%v\nwant\n%v", w.limit, got, all)
			}
			seen := map[int64]bool{}
			for _, id := range got {
				if seen[id] {
					t.Fatalf("id %d served twice", id)
				}
				seen[id] = true
			}
		})
	}

	t.Run("offset paging", func(t *testing.T) {
		e := e.with(t)
		all := e.ids("/collections/incidents/items?limit=10000")
		for _, off := range []int{0, 5, 10, 100, 104} {
			got := e.ids(fmt.Sprintf("/collections/incidents/items?limit=5&offset=%d", off))
			if want := all[off:min(off+5, total)]; !slices.Equal(got, want) {
				t.Fatalf("offset %d: %v, want %v", off, got, want)
			}
		}
		body := e.items("/collections/incidents/items?limit=5&offset=500")
		if len(featuresOf(body)) != 0 || body["numberMatched"].(float64) != total || nextLink(t, body) != "" {
			t.Fatalf("offset past the end: %d features, matched %v, next %q", len(featuresOf(body)), body["numberMatched"], nextLink(t, body))
		}
		// A next link from an offset page continues after that page.
		body = e.items("/collections/incidents/items?limit=5&offset=10")
		if got := e.ids(nextLink(t, body)); !slices.Equal(got, all[15:20]) {
			t.Fatalf("next of offset 10: %v, want %v", got, all[15:20])
		}
	})

	t.Run("400 tampered cursor", func(t *testing.T) {
		e := e.with(t)
		next := nextLink(t, e.items("/collections/incidents/items?limit=5"))
		u, _ := url.Parse(next)
		cursor := u.Query().Get("cursor")
		if cursor == "" {
			t.Fatalf("next link %q carries no cursor", next)
		}
		flipped := []byte(cursor)
		flipped[0] ^= 1
		for _, c := range []string{
			"garbage!!",
			string(flipped),
			cursor[:len(cursor)/2],
			base64.RawURLEncoding.EncodeToString([]byte(`{"k":1,"i":0}`)),
			base64.RawURLEncoding.EncodeToString([]byte(`null`)),
			base64.RawURLEncoding.EncodeToString([]byte(`[1,2]`)),
		} {
			e.do("GET", "/collections/incidents/items?limit=5&cursor="+url.QueryEscape(c), nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "cursor")
		}
	})
}

// TestItemsPagingWhileWriting walks next links while incidents are added
// and removed between pages: keyset paging neither repeats nor skips.
func TestItemsPagingWhileWriting(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC)
	stamp := func(h int) string { return base.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	for i := 0; i < 30; i++ {
		e.createIncident(44, 33, map[string]any{"occurred_at": stamp(100 + i/2)}) // pairs tie on occurred_at
	}
	before := e.ids("/collections/incidents/items?limit=1000") // newest first
	if len(before) != 30 {
		t.Fatalf("%d incidents", len(before))
	}
	del := func(id int64) {
		e.do("DELETE", fmt.Sprintf("/collections/incidents/items/%d", id), nil, domain.RoleAdmin).wantStatus(http.StatusNoContent)
	}
	var oldest int64
	got := e.walk("/collections/incidents/items?limit=5", 5, func(page int) {
		switch page {
		case 1:
			// Newer incidents sort before the cursor: never served.
			e.createIncident(44, 33, map[string]any{"occurred_at": stamp(500)})
			e.createIncident(44, 33, map[string]any{"occurred_at": stamp(501)})
			// One with the cursor's own occurred_at but a higher id also
			// sorts before it under -occurred_at, -id.
			e.createIncident(44, 33, map[string]any{"occurred_at": stamp(100 + 14)})
			// Deleting a served incident must not shift the rest.
			del(before[0])
			del(before[3])
			// Deleting one not yet served drops just that one.
			del(before[17])
			// An incident older than all sorts after the cursor: served last.
			oldest = e.createIncident(44, 33, map[string]any{"occurred_at": stamp(1)})
		case 3:
			e.createIncident(44, 33, map[string]any{"occurred_at": stamp(502)})
			del(before[10])
			del(before[25])
		}
	})
	var want []int64
	for i, id := range before {
		if i != 17 && i != 25 {
			want = append(want, id)
		}
	}
	want = append(want, oldest)
	if !slices.Equal(got, want) {
		t.Fatalf("pages served\n%v\nwant\n%v", got, want)
	}
}

// TestItemsChainAttribution: A directs B in 2018, B sponsors C for ever,
// A is allied with D and E is a member of A.
func TestItemsChainAttribution(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"actor-a", "actor-b", "actor-c", "actor-d", "actor-e", "victim"} {
		e.do("POST", "/actors", map[string]any{"id": id, "name": "Actor " + id, "kind": "armed_group"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	relate := func(subject, kind, target string, from, to any) {
		e.do("POST", "/actors/"+subject+"/relations", map[string]any{"kind": kind, "target_id": target, "valid_from": from, "valid_to": to},
			domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	relate("actor-a", "directs", "actor-b", "2018-01-01T00:00:00Z", "2019-01-01T00:00:00Z")
	relate("actor-b", "sponsors", "actor-c", nil, nil)
	relate("actor-a", "allied_with", "actor-d", nil, nil)
	relate("actor-e", "member_of", "actor-a", nil, nil)

	ids := named{}
	incident := func(name, when string, actors ...map[string]any) {
		list := make([]any, len(actors))
		for i, a := range actors {
			list[i] = a
		}
		ids[name] = e.createIncident(44, 33, map[string]any{"title": name, "occurred_at": when, "actors": list})
	}
	by := func(id, role string) map[string]any { return map[string]any{"actor_id": id, "role": role} }
	incident("A own", "2015-05-05T00:00:00Z", by("actor-a", "perpetrator"))
	incident("A claimed", "2021-05-05T00:00:00Z", by("actor-a", "claimant"))
	incident("B 2018", "2018-06-01T00:00:00Z", by("actor-b", "perpetrator"))
	incident("B first instant", "2018-01-01T00:00:00Z", by("actor-b", "perpetrator"))
	incident("B 2017", "2017-12-31T23:59:59Z", by("actor-b", "perpetrator"))
	incident("B 2020", "2020-03-01T00:00:00Z", by("actor-b", "perpetrator"))
	incident("C 2018", "2018-07-01T00:00:00Z", by("actor-c", "suspected"))
	incident("C 2020", "2020-07-01T00:00:00Z", by("actor-c", "perpetrator"))
	incident("C target 2018", "2018-08-01T00:00:00Z", by("victim", "perpetrator"), by("actor-c", "target"))
	incident("D 2018", "2018-06-01T00:00:00Z", by("actor-d", "perpetrator"))
	incident("E 2018", "2018-06-01T00:00:00Z", by("actor-e", "perpetrator"))

	tests := []struct {
		name, query string
		want        []string
	}{
		{"A direct", "actor=actor-a&attribution=direct", []string{"A own", "A claimed"}},
		{"A direct by default", "actor=actor-a", []string{"A own", "A claimed"}},
		{"A chain", "actor=actor-a&attribution=chain", []string{"A own", "A claimed", "B 2018", "B first instant", "C 2018"}},
		{"B chain", "actor=actor-b&attribution=chain",
			[]string{"B 2018", "B first instant", "B 2017", "B 2020", "C 2018", "C 2020"}},
		{"C chain is C's own as perpetrator or suspect, never as target", "actor=actor-c&attribution=chain", []string{"C 2018", "C 2020"}},
		{"C direct counts any role", "actor=actor-c", []string{"C 2018", "C 2020", "C target 2018"}},
		{"actor_role limits direct", "actor=actor-c&actor_role=target", []string{"C target 2018"}},
		{"actor_role limits chain", "actor=actor-b&attribution=chain&actor_role=suspected", []string{"C 2018"}},
		{"E chain does not climb member_of", "actor=actor-e&attribution=chain", []string{"E 2018"}},
		{"D chain does not follow allied_with back", "actor=actor-d&attribution=chain", []string{"D 2018"}},
		{"chain AND datetime", "actor=actor-a&attribution=chain&datetime=2018-06-01/..", []string{"A claimed", "B 2018", "C 2018"}},
		{"chain of two roots", "actor=actor-a,actor-d&attribution=chain", []string{"A own", "A claimed", "B 2018", "B first instant", "C 2018", "D 2018"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			e.wantSet("/collections/incidents/items?"+tt.query, ids.ids(tt.want...)...)
		})
	}
}

func TestCursorBelongsToItsSortOrder(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		e.createIncident(44, 33, map[string]any{"severity": i + 1})
	}
	r := e.do("GET", "/collections/incidents/items?limit=1&sortby=severity", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	var next string
	for _, l := range r.json()["links"].([]any) {
		if l.(map[string]any)["rel"] == "next" {
			next = l.(map[string]any)["href"].(string)
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Query().Get("cursor") == "" {
		t.Fatalf("no next cursor in %q", next)
	}
	cursor := u.Query().Get("cursor")
	e.do("GET", "/collections/incidents/items?limit=1&sortby=severity&cursor="+cursor, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	e.do("GET", "/collections/incidents/items?limit=1&sortby=-severity&cursor="+cursor, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "cursor")
	e.do("GET", "/collections/facilities/items?cursor="+cursor, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "cursor")
}

// TestTextIndexFollowsEdits checks that q= sees a title as it is now: the
// store, not a trigger, keeps the full-text index in step.
func TestTextIndexFollowsEdits(t *testing.T) {
	e := newEnv(t)
	id := e.createIncident(44, 33, map[string]any{"title": "Mortars on the alpha gate", "description": "seen from the tower"})
	item := fmt.Sprintf("/collections/incidents/items/%d", id)
	e.do("PATCH", item, `{"properties": {"title": "Rockets on the bravo gate"}}`, domain.RoleOfficer,
		"Content-Type", "application/merge-patch+json").wantStatus(http.StatusOK)
	for q, want := range map[string]int{"alpha": 0, "bravo": 1, "tower": 1, "rockets bravo": 1, "rockets alpha": 0} {
		if got := e.count("/collections/incidents/items?q=" + url.QueryEscape(q)); got != want {
			t.Errorf("q=%s matched %d, want %d", q, got, want)
		}
	}
	e.do("DELETE", item, nil, domain.RoleAdmin).wantStatus(http.StatusNoContent)
	if got := e.count("/collections/incidents/items?q=bravo"); got != 0 {
		t.Errorf("a deleted incident still matches q=bravo")
	}
}

func TestMalformedQueriesAreRefused(t *testing.T) {
	e := newEnv(t)
	e.createIncident(44, 33, nil)
	for _, q := range []string{"bbox=%zz", "foo%zz=1", "severity_min=5%", "%=1", "limit=1;foo=1"} {
		e.do("GET", "/collections/incidents/items?"+q, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "")
	}
	r := e.do("GET", "/collections/incidents/items?limit=99999999999999999999", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	if n := r.json()["numberReturned"].(float64); n != 1 {
		t.Fatalf("a huge limit returned %v features, want it clamped and the one incident", n)
	}
	e.do("GET", "/healthz?access_token=x", nil, "").wantStatus(http.StatusOK)
	e.do("GET", "/collections", nil, "", "Authorization", "bearer "+e.tokens[domain.RoleAnalyst]).wantStatus(http.StatusOK)
	e.do("GET", "/collections/", nil, domain.RoleAnalyst).wantProblem(http.StatusNotFound, "")
}
