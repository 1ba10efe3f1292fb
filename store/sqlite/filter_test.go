package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"github.com/postwatch/postwatch/domain"
)

// TestSpatialFiltersUseTheRTree: a CQL2 spatial function selects its
// candidates through the R*Tree with the literal's bounding boxes and tests
// only those exactly; it never scans the incidents table, alone or beside
// other conditions.
func TestSpatialFiltersUseTheRTree(t *testing.T) {
	s := openTestStoreWith(t, Options{NoGrid: true})
	ctx := context.Background()
	var all []domain.Incident
	for i := range 120 {
		inc := domain.Incident{
			Location: orb.Point{40 + float64(i%12), 29 + float64(i/12)*0.5}, Type: "indirect_fire",
			Title: fmt.Sprintf("incident %d", i), OccurredAt: time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC), Severity: 1 + i%5,
		}
		if err := s.CreateIncident(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		all = append(all, inc)
	}
	triangle := orb.Polygon{{{42.5, 29.5}, {47.5, 29.5}, {45, 33.2}, {42.5, 29.5}}}
	two := orb.MultiPolygon{triangle, {{{49.5, 32.5}, {51.5, 32.5}, {51.5, 34}, {49.5, 34}, {49.5, 32.5}}}}
	capture := captureReads(t, s)
	for _, tt := range []struct {
		name  string
		where domain.Expr
		keep  func(domain.Incident) bool
	}{
		{"polygon", domain.Spatial{Op: "intersects", Property: "geometry", Geometry: triangle},
			func(inc domain.Incident) bool { return planar.PolygonContains(triangle, inc.Location) }},
		{"multipolygon and severity", domain.And{Operands: []domain.Expr{
			domain.Spatial{Op: "within", Property: "geometry", Geometry: two},
			domain.Compare{Op: ">=", Left: domain.Property{Name: "severity"}, Right: domain.Literal{Value: 3.0}},
		}}, func(inc domain.Incident) bool {
			return planar.MultiPolygonContains(two, inc.Location) && !onAnyRing(two, inc.Location) && inc.Severity >= 3
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			capture()
			page, err := s.FindIncidents(ctx, domain.IncidentFilter{Where: tt.where, SortBy: domain.SortOccurredAtDesc, Page: domain.Page{Limit: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			var want, got []int64
			for _, inc := range all {
				if tt.keep(inc) {
					want = append(want, inc.ID)
				}
			}
			for _, h := range page.Items {
				got = append(got, h.ID)
			}
			slices.Sort(got)
			if len(want) == 0 || len(want) == len(all) || !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v (of %d)", got, want, len(all))
			}
			queries := capture()
			if len(queries) == 0 {
				t.Fatal("no query captured")
			}
			for _, q := range queries {
				if isTreeProbe(q.sql) {
					continue
				}
				text := strings.Join(queryPlan(t, s, q), "\n")
				if !strings.Contains(text, "incidents_rtree VIRTUAL TABLE INDEX 2:") {
					t.Errorf("query does not search the R*Tree:\n%s\n%s", q.sql, text)
				}
				if strings.Contains(text, "SCAN i\n") || strings.HasSuffix(text, "SCAN i") || strings.Contains(text, "SCAN i ") {
					t.Errorf("query scans incidents:\n%s\n%s", q.sql, text)
				}
			}
		})
	}
}

func onAnyRing(mp orb.MultiPolygon, p orb.Point) bool {
	for _, poly := range mp {
		for _, r := range poly {
			if planar.DistanceFrom(orb.LineString(r), p) == 0 {
				return true
			}
		}
	}
	return false
}

// TestGlobPattern: LIKE patterns become GLOB patterns that match the same
// texts case-sensitively.
func TestGlobPattern(t *testing.T) {
	for pattern, want := range map[string]string{
		"Basra%":    "Basra*",
		"_asra":     "?asra",
		`50\%`:      "50%",
		`done\_x`:   "done_x",
		"a*b?c[d]":  "a[*]b[?]c[[]d]",
		`\\`:        `\`,
		`trailing\`: `trailing\`,
		"Ḥalab%":    "Ḥalab*",
		`\Ḥ`:        "Ḥ",
	} {
		if got := globPattern(pattern); got != want {
			t.Errorf("globPattern(%q) = %q, want %q", pattern, got, want)
		}
	}
}
