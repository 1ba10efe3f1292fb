package api_test

import (
	"fmt"
	"slices"
	"testing"
)

// TestCQL2AntimeridianAndMultiPointForms checks, on points placed on and
// around both sides of the antimeridian, that a BBOX crossing it has ±180 in
// its interior (S_WITHIN finds what S_INTERSECTS finds there, and only its
// own edges touch), in CQL2 text and JSON; and that a MULTIPOINT is read
// with and without parentheses around its points, also mixed and nested.
func TestCQL2AntimeridianAndMultiPointForms(t *testing.T) {
	e := newEnv(t)
	at := map[string]int64{}
	for _, p := range [][2]float64{{180, 0.5}, {-180, 0.5}, {179.5, 0.5}, {-179.5, 0.5}, {179, 0.5}, {-179, 1}, {180, 1}, {180, 2}, {0, 0.5}} {
		at[fmt.Sprint(p[0], " ", p[1])] = e.createIncident(p[0], p[1], map[string]any{"title": fmt.Sprint("at ", p)})
	}
	inside := []string{"180 0.5", "-180 0.5", "179.5 0.5", "-179.5 0.5"}
	edges := []string{"179 0.5", "-179 1", "180 1"}
	outside := []string{"180 2", "0 0.5"}
	jsonBox := `{"op":"%s","args":[{"property":"geometry"},{"bbox":[179,0,-179,1]}]}`
	tests := []struct {
		lang, filter string
		want         []string
	}{
		{"cql2-text", "S_WITHIN(geometry, BBOX(179, 0, -179, 1))", inside},
		{"cql2-text", "S_CONTAINS(BBOX(179, 0, -179, 1), geometry)", inside},
		{"cql2-text", "S_INTERSECTS(geometry, BBOX(179, 0, -179, 1))", append(slices.Clone(inside), edges...)},
		{"cql2-text", "S_TOUCHES(geometry, BBOX(179, 0, -179, 1))", edges},
		{"cql2-text", "S_DISJOINT(geometry, BBOX(179, 0, -179, 1))", outside},
		{"cql2-text", "S_WITHIN(geometry, BBOX(179, 0, 0, -179, 1, 10))", inside},
		{"cql2-json", fmt.Sprintf(jsonBox, "s_within"), inside},
		{"cql2-json", fmt.Sprintf(jsonBox, "s_touches"), edges},

		{"cql2-text", "S_INTERSECTS(geometry, MULTIPOINT(180 0.5, 0 0.5))", []string{"180 0.5", "0 0.5"}},
		{"cql2-text", "S_INTERSECTS(geometry, MULTIPOINT((180 0.5), (0 0.5)))", []string{"180 0.5", "0 0.5"}},
		{"cql2-text", "S_INTERSECTS(geometry, MULTIPOINT((180 0.5), 0 0.5))", []string{"180 0.5", "0 0.5"}},
		{"cql2-text", "S_INTERSECTS(geometry, multipoint ( 180 0.5 ,0 0.5 ))", []string{"180 0.5", "0 0.5"}},
		{"cql2-text", "S_INTERSECTS(geometry, MULTIPOINT Z (180 0.5 3, 0 0.5 4))", []string{"180 0.5", "0 0.5"}},
		{"cql2-text", "S_INTERSECTS(geometry, MULTIPOINT(-180 0.5))", []string{"-180 0.5"}},
		{"cql2-text", "S_CONTAINS(geometry, MULTIPOINT(0 0.5, 0 0.5))", []string{"0 0.5"}},
		{"cql2-text", "S_INTERSECTS(geometry, GEOMETRYCOLLECTION(MULTIPOINT(0 0.5, 180 2), POINT(180 1)))", []string{"0 0.5", "180 2", "180 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			var want []int64
			for _, k := range tc.want {
				want = append(want, at[k])
			}
			slices.Sort(want)
			if got := e.in(t).filterIDs(tc.lang, tc.filter); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v (%v)", got, want, tc.want)
			}
		})
	}
	t.Run("a point outside WGS84 in a bare MULTIPOINT", func(t *testing.T) {
		e.in(t).do("GET", "/collections/incidents/items?filter="+
			"S_INTERSECTS(geometry,MULTIPOINT(0%200,%20181%200))", nil, "analyst").wantProblem(400, "filter")
	})
}
