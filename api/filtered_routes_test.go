package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/postwatch/postwatch/domain"
)

// shapeParams are the items parameters that page or shape the answer
// rather than choose incidents; every other one is a filter.
var shapeParams = []string{"limit", "offset", "cursor", "properties", "skipGeometry", "sortby", "f"}

// TestItemsFiltersOnEveryFilteredRoute: stats, tiles, tiles.json and
// exports take "any items filter" (CONTRACT §6, §10), so each declares
// every filter the items route declares and applies it as items do: a map
// whose query string carries ?actor_role= or ?killed= gets the same
// incidents in its tiles, its TileJSON, its chart and its export.
func TestItemsFiltersOnEveryFilteredRoute(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/actors", map[string]any{"id": "kh", "name": "Kata'ib Hezbollah", "kind": "militia"}, domain.RoleOfficer).
		wantStatus(http.StatusCreated)
	fac := e.createFacility(47.6625, 30.5489, "U.S. Consulate General Basrah")
	// hit and miss lie in one z14 tile and differ in every filtered property.
	hit := e.createIncident(47.6601, 30.5501, map[string]any{
		"type": "ied", "title": "Device found", "description": "under the bridge", "severity": 4,
		"occurred_at": "2019-05-01T10:00:00Z", "time_precision": "day", "location_precision": "city",
		"facility_id": fac, "external_id": "hit-1", "casualties": map[string]any{"killed": 3, "injured": 2},
		"actors": []any{map[string]any{"actor_id": "kh", "role": "perpetrator"}},
	})
	e.do("PATCH", fmt.Sprintf("/collections/incidents/items/%d", hit), map[string]any{"properties": map[string]any{"status": "confirmed"}},
		domain.RoleOfficer, "Content-Type", "application/merge-patch+json").wantStatus(http.StatusOK)
	miss := e.createIncident(47.6605, 30.5505, map[string]any{
		"type": "ied", "title": "Rockets", "severity": 2, "external_id": "miss-1",
		"actors": []any{map[string]any{"actor_id": "kh", "role": "target"}},
	})
	const crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
	filters := []struct{ name, query string }{
		{"actor_role", "actor=kh&actor_role=perpetrator"},
		{"filter-crs", "filter=" + url.QueryEscape("S_INTERSECTS(geometry,POINT(47.6601 30.5501))") + "&filter-crs=" + url.QueryEscape(crs84)},
		{"killed", "killed=3"},
		{"injured", "injured=2"},
		{"severity", "severity=4"},
		{"time_precision", "time_precision=day"},
		{"location_precision", "location_precision=city"},
		{"title", "title=" + url.QueryEscape("Device found")},
		{"description", "description=" + url.QueryEscape("under the bridge")},
		{"occurred_at", "occurred_at=2019-05-01T10:00:00Z"},
		{"facility_id", fmt.Sprintf("facility_id=%d", fac)},
		{"external_id", "external_id=hit-1"},
		{"version", "version=2"},
	}
	tile := maptile.At(orb.Point{47.6603, 30.5503}, 14)
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			e := e.in(t)
			if got := e.ids("/collections/incidents/items?" + f.query); !slices.Equal(got, []int64{hit}) {
				t.Fatalf("items chose %v, want [%d]", got, hit)
			}
			stats := e.do("GET", "/stats/incidents?group_by=type&"+f.query, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()
			if b, _ := stats["buckets"].([]any); len(b) != 1 || b[0].(map[string]any)["count"] != 1.0 {
				t.Errorf("stats: buckets %v, want one of count 1", stats["buckets"])
			}
			var fc struct {
				Features []struct{ ID int64 } `json:"features"`
			}
			exp := e.do("GET", "/exports/incidents?f=geojson&"+f.query, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
			if err := json.Unmarshal(exp.Body.Bytes(), &fc); err != nil || len(fc.Features) != 1 || fc.Features[0].ID != hit {
				t.Errorf("export: %v, %+v, want only %d", err, fc.Features, hit)
			}
			tileIDs := func(u string) []uint64 {
				layers, _ := e.getTile(u)
				var ids []uint64
				if l := layerNamed(layers, "incidents"); l != nil {
					for _, ft := range l.features {
						ids = append(ids, ft.id)
					}
				}
				return ids
			}
			if got := tileIDs(tileURL(14, int(tile.X), int(tile.Y), f.query)); !slices.Equal(got, []uint64{uint64(hit)}) {
				t.Errorf("tile holds %v, want [%d] (miss is %d)", got, hit, miss)
			}
			tj := e.do("GET", "/tiles.json?"+f.query, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()
			tmpl := tj["tiles"].([]any)[0].(string)
			u, err := url.Parse(strings.NewReplacer("{z}", "14", "{x}", fmt.Sprint(tile.X), "{y}", fmt.Sprint(tile.Y)).Replace(tmpl))
			if err != nil {
				t.Fatal(err)
			}
			if got := tileIDs(u.RequestURI()); !slices.Equal(got, []uint64{uint64(hit)}) {
				t.Errorf("the TileJSON template's tile %s holds %v, want [%d]", u.RequestURI(), got, hit)
			}
		})
	}

	t.Run("every items filter is declared on each filtered route", func(t *testing.T) {
		var doc struct {
			Paths      map[string]map[string]struct{ Parameters []map[string]any } `json:"paths"`
			Components struct {
				Parameters map[string]struct{ Name, In string } `json:"parameters"`
			} `json:"components"`
		}
		if err := json.Unmarshal(e.do("GET", "/openapi.json", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		query := func(path string) []string {
			var names []string
			for _, p := range doc.Paths[path]["get"].Parameters {
				name, in := p["name"], p["in"]
				if ref, ok := p["$ref"].(string); ok {
					c := doc.Components.Parameters[strings.TrimPrefix(ref, "#/components/parameters/")]
					name, in = c.Name, c.In
				}
				if in == "query" {
					names = append(names, name.(string))
				}
			}
			return names
		}
		items := query("/collections/incidents/items")
		for _, route := range []string{"/stats/incidents", "/exports/incidents", "/tiles/{z}/{x}/{y}.mvt", "/tiles.json"} {
			have := query(route)
			for _, name := range items {
				if !slices.Contains(shapeParams, name) && !slices.Contains(have, name) {
					t.Errorf("%s does not take the items filter %s", route, name)
				}
			}
		}
	})
}
