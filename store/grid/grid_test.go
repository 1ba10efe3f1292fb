package grid

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// TestGridAgreesWithBruteForce fills a grid with points clustered on cell
// and block edges and near the antimeridian, removes and moves some, and
// checks count and pages of many queries against a plain scan.
func TestGridAgreesWithBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	g := New()
	live := map[int64]Entry{}
	pick := func() (float64, float64) {
		switch rng.IntN(4) {
		case 0: // on a cell edge
			return float64(440+rng.IntN(20))/10 + 0, float64(330+rng.IntN(20)) / 10
		case 1: // near the antimeridian
			return 179.8 + rng.Float64()*0.2, -16 - rng.Float64()
		case 2:
			return -180 + rng.Float64()*0.2, -16 - rng.Float64()
		}
		return 44 + rng.Float64()*2, 33 + rng.Float64()*2
	}
	base := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for id := int64(1); id <= 3000; id++ {
		lon, lat := pick()
		e := Entry{At: base + rng.Int64N(400)*86_400e6, ID: id, Lon: lon, Lat: lat}
		if id%7 == 0 {
			e.At = live[id-1].At // ties on time, broken by id
		}
		g.Add(e)
		live[id] = e
	}
	for id := int64(5); id <= 3000; id += 11 {
		g.Remove(id)
		delete(live, id)
	}
	for id := int64(6); id <= 3000; id += 13 { // moved and re-timed
		g.Remove(id)
		lon, lat := pick()
		e := Entry{At: base + rng.Int64N(400)*86_400e6, ID: id, Lon: lon, Lat: lat}
		g.Add(e)
		live[id] = e
	}
	// Ids far past the dense range, as a row written by other means could
	// have: they are indexed without growing cellOf to reach them.
	for _, id := range []int64{1 << 40, 1<<62 + 3} {
		e := Entry{At: base + id%400*86_400e6, ID: id, Lon: 44.5, Lat: 33.5}
		g.Add(e)
		live[id] = e
	}
	g.Remove(1 << 40)
	delete(live, 1<<40)
	if len(g.cellOf) > 3001+denseSlack {
		t.Fatalf("cellOf grew to %d entries for a far id", len(g.cellOf))
	}
	if g.n != len(live) {
		t.Fatalf("grid holds %d, want %d", g.n, len(live))
	}

	at := func(days int) *time.Time { t := time.UnixMicro(base + int64(days)*86_400e6).UTC(); return &t }
	box := func(a, b, c, d float64) []orb.Bound {
		return geo.BBox{MinLon: a, MinLat: b, MaxLon: c, MaxLat: d}.Bounds()
	}
	filters := []struct {
		name string
		f    domain.IncidentFilter
	}{
		{"cell-aligned box", domain.IncidentFilter{BBox: box(44.5, 33.5, 45.5, 34.5)}},
		{"box with odd edges", domain.IncidentFilter{BBox: box(44.23, 33.17, 45.61, 34.05)}},
		{"box around all", domain.IncidentFilter{BBox: box(-180, -90, 180, 90)}},
		{"line box", domain.IncidentFilter{BBox: box(44.5, 33, 44.5, 35)}},
		{"across the antimeridian", domain.IncidentFilter{BBox: box(179.9, -16.5, -179.9, -15.5)}},
		{"box and time", domain.IncidentFilter{BBox: box(44, 33, 46, 35), Time: &domain.TimeRange{Start: at(100), End: at(200)}}},
		{"open-ended time", domain.IncidentFilter{BBox: box(44, 33, 46, 35), Time: &domain.TimeRange{Start: at(300)}}},
		{"near", domain.IncidentFilter{Near: &domain.Near{Center: orb.Point{45, 34}, RadiusM: 40_000}}},
		{"near, wide", domain.IncidentFilter{Near: &domain.Near{Center: orb.Point{45, 34}, RadiusM: 300_000}}},
		{"near the antimeridian", domain.IncidentFilter{Near: &domain.Near{Center: orb.Point{180, -16}, RadiusM: 30_000}, Time: &domain.TimeRange{End: at(250)}}},
	}
	for _, tc := range filters {
		for _, desc := range []bool{true, false} {
			q := NewQuery(tc.f)
			var want []Entry
			for _, e := range live {
				if e.At >= q.start && e.At <= q.end && q.matches(&e) {
					want = append(want, e)
				}
			}
			slices.SortFunc(want, func(a, b Entry) int {
				if desc {
					return b.cmp(a.At, a.ID)
				}
				return a.cmp(b.At, b.ID)
			})
			if len(want) < 20 {
				t.Fatalf("%s matches %d points; too few to page", tc.name, len(want))
			}
			if n := g.Count(&q); n != len(want) {
				t.Errorf("%s: count %d, want %d", tc.name, n, len(want))
			}
			// Page through with cursors, 17 at a time.
			var got []int64
			var cursor *domain.Cursor
			for {
				ids := g.Page(&q, desc, cursor, 17)
				got = append(got, ids...)
				if len(ids) < 17 {
					break
				}
				last := live[ids[len(ids)-1]]
				cursor = &domain.Cursor{Key: last.At, ID: last.ID}
			}
			wantIDs := make([]int64, len(want))
			for i, e := range want {
				wantIDs[i] = e.ID
			}
			if !slices.Equal(got, wantIDs) {
				t.Errorf("%s (desc %v): pages differ from the scan\n got %v\nwant %v", tc.name, desc, got, wantIDs)
			}
		}
	}
}
