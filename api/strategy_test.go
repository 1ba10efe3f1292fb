package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store/sqlite"
)

// TestQueryStrategiesAgree checks that the store's ways of answering a
// spatial query — merging the in-memory grid's cells, the grid's count with
// a walk of the occurred_at index, sorting inside the R*Tree, walking the
// index with a capped count, and the general plan (forced by a filter that
// matches everything) — return the same features in the same order, page
// after page, and that they equal a brute-force answer. The stores share
// one file and all writes go through the tree's, so the grids follow them
// through the history table as they would follow another process.
func TestQueryStrategiesAgree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	grid := newEnvAt(t, path, sqlite.Options{})
	gridWalk := newEnvAt(t, path, sqlite.Options{GridMergeCells: -1})
	tree := newEnvAt(t, path, sqlite.Options{NoGrid: true})
	scan := newEnvAt(t, path, sqlite.Options{NoGrid: true, TreeSortMax: -1})

	type point struct {
		id  int64
		pt  orb.Point
		at  time.Time
		del bool
	}
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	var pts []point
	for i := 0; i < 160; i++ {
		p := point{pt: orb.Point{44 + rng.Float64()*2, 33 + rng.Float64()*2}, at: base.Add(time.Duration(rng.IntN(400)) * 24 * time.Hour)}
		switch i % 10 {
		case 9:
			p.at = pts[i-1].at // ties on occurred_at, broken by id
		case 4:
			p.at = pts[i-1].at.Add(300 * time.Millisecond) // closer than the tree's float32 resolution
		}
		p.id = tree.createIncident(p.pt[0], p.pt[1], map[string]any{"occurred_at": p.at.Format(time.RFC3339Nano)})
		pts = append(pts, p)
	}
	for i := 3; i < len(pts); i += 17 {
		tree.do("DELETE", fmt.Sprintf("/collections/incidents/items/%d", pts[i].id), nil, domain.RoleAdmin).wantStatus(http.StatusNoContent)
		pts[i].del = true
	}

	// Bounds exactly on incidents' times (inclusive at both ends), one of
	// them 300 ms after another incident.
	times := make([]time.Time, 0, len(pts))
	for _, p := range pts {
		times = append(times, p.at)
	}
	slices.SortFunc(times, time.Time.Compare)
	from, to := pts[44].at, times[120]
	queries := []struct {
		query string
		want  func(p point) bool
	}{
		{"bbox=44,33,46,35&datetime=" + from.Format(time.RFC3339Nano) + "/" + to.Format(time.RFC3339Nano), func(p point) bool {
			return !p.at.Before(from) && !p.at.After(to)
		}},
		{"bbox=44.5,33.5,45.5,34.5", func(p point) bool { return inBox(p.pt, 44.5, 33.5, 45.5, 34.5) }},
		{"bbox=40,30,50,40", func(p point) bool { return true }},
		{"bbox=44,33,46,35&datetime=2018-03-01/2018-06-30", func(p point) bool {
			return !p.at.Before(time.Date(2018, 3, 1, 0, 0, 0, 0, time.UTC)) && p.at.Before(time.Date(2018, 7, 1, 0, 0, 0, 0, time.UTC))
		}},
		{"bbox=44.2,33.2,45.8,34.8&datetime=2018-06-01T00:00:00Z/..", func(p point) bool {
			return inBox(p.pt, 44.2, 33.2, 45.8, 34.8) && !p.at.Before(time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC))
		}},
		{"near=45,34&radius=60000", func(p point) bool { return geo.Distance(p.pt, orb.Point{45, 34}) <= 60000 }},
		{"near=45,34&radius=60000&bbox=45,33,46,35", func(p point) bool {
			return geo.Distance(p.pt, orb.Point{45, 34}) <= 60000 && inBox(p.pt, 45, 33, 46, 35)
		}},
	}
	for _, q := range queries {
		for _, sort := range []string{"", "&sortby=occurred_at"} {
			var want []point
			for _, p := range pts {
				if !p.del && q.want(p) {
					want = append(want, p)
				}
			}
			slices.SortFunc(want, func(a, b point) int {
				if c := a.at.Compare(b.at); c != 0 {
					return c
				}
				return int(a.id - b.id)
			})
			if sort == "" {
				slices.Reverse(want)
			}
			var wantIDs []int64
			for _, p := range want {
				wantIDs = append(wantIDs, p.id)
			}
			t.Run(q.query+sort, func(t *testing.T) {
				if len(wantIDs) < 8 {
					t.Fatalf("query matches only %d points; the test needs more to page", len(wantIDs))
				}
				url := "/collections/incidents/items?limit=7&" + q.query + sort
				for name, got := range map[string][]int64{
					"grid merge":    grid.with(t).walk(url, 7, nil),
					"grid + walk":   gridWalk.with(t).walk(url, 7, nil),
					"R*Tree sort":   tree.with(t).walk(url, 7, nil),
					"index walk":    scan.with(t).walk(url, 7, nil),
					"general plan":  tree.with(t).walk(url+"&severity_min=1", 7, nil),
					"general, walk": scan.with(t).walk(url+"&severity_min=1", 7, nil),
					"general, grid": grid.with(t).walk(url+"&type=indirect_fire", 7, nil),
				} {
					if !slices.Equal(got, wantIDs) {
						t.Errorf("%s gave\n%v\nwant\n%v", name, got, wantIDs)
					}
				}
				// numberMatched is exact on every path: the grid's count (with
				// a type or severity tested per incident), the tree's, and a
				// count(*) of the general plan.
				for name, e := range map[string]*env{"grid": grid, "grid + walk": gridWalk, "R*Tree": tree, "index walk": scan} {
					for _, extra := range []string{"", "&severity_min=1", "&type=indirect_fire,ied", "&country=IQ,SY&type=indirect_fire"} {
						want := len(wantIDs)
						if strings.Contains(extra, "country") {
							want = 0 // the incidents have no country
						}
						if n := e.with(t).count(url + extra); n != want {
							t.Errorf("%s%s: numberMatched %d, want %d", name, extra, n, want)
						}
					}
					if n := e.with(t).count(url + "&type=protest"); n != 0 {
						t.Errorf("%s under type=protest: numberMatched %d, want 0", name, n)
					}
					if n := e.with(t).count(url + "&severity_min=4"); n != 0 {
						t.Errorf("%s under severity_min=4: numberMatched %d, want 0", name, n)
					}
				}
			})
		}
	}
}

func inBox(p orb.Point, minLon, minLat, maxLon, maxLat float64) bool {
	return p[0] >= minLon && p[0] <= maxLon && p[1] >= minLat && p[1] <= maxLat
}
