package sqlite

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

func TestGridAgreesWithTreeAtEdgesAndPoles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cmp.db")
	tree := openAt(t, path, Options{NoGrid: true})
	rng := rand.New(rand.NewPCG(7, 9))
	centers := []orb.Point{{179.95, -16.5}, {-179.95, -16.5}, {44.5, 33.5}, {10, 89.9}, {-170, -89.5}, {0, 0}}
	base := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := []*domain.Incident{}
	for i := range 1500 {
		c := centers[rng.IntN(len(centers))]
		lon := c[0] + (rng.Float64()-0.5)*0.6
		lat := c[1] + (rng.Float64()-0.5)*0.6
		lon = max(-180, min(180, lon))
		lat = max(-90, min(90, lat))
		if i%10 == 0 {
			lon = float64(int(lon*10)) / 10 // on cell edges
		}
		at := base.Add(time.Duration(rng.IntN(100)) * time.Hour)
		typ := []domain.IncidentType{"protest", "riot"}[rng.IntN(2)]
		batch = append(batch, &domain.Incident{Location: orb.Point{lon, lat}, Type: typ, Title: "t", OccurredAt: at, Severity: 1 + rng.IntN(5)})
	}
	if _, err := tree.ImportIncidents(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	grid := openAt(t, path, Options{})
	gridIdx := openAt(t, path, Options{GridMergeCells: -1})
	for q := range 400 {
		f := domain.IncidentFilter{Page: domain.Page{Limit: 10000}}
		c := centers[rng.IntN(len(centers))]
		switch rng.IntN(3) {
		case 0:
			w, h := rng.Float64()*1.5, rng.Float64()*1.5
			b, err := geo.NewBBox(max(-180, c[0]-w), max(-90, c[1]-h), min(180, c[0]+w), min(90, c[1]+h))
			if err != nil {
				continue
			}
			if rng.IntN(3) == 0 { // across the antimeridian
				b, _ = geo.NewBBox(179.9-w/10, -17, -179.9+w/10, -16)
			}
			f.BBox = b.Bounds()
		default:
			f.Near = &domain.Near{Center: orb.Point{c[0] + (rng.Float64()-0.5)*0.3, max(-90, min(90, c[1]+(rng.Float64()-0.5)*0.3))}, RadiusM: rng.Float64() * 60000}
		}
		if rng.IntN(2) == 0 {
			s := base.Add(time.Duration(rng.IntN(100)) * time.Hour)
			e := s.Add(time.Duration(rng.IntN(30)) * time.Hour)
			f.Time = &domain.TimeRange{Start: &s, End: &e}
		}
		if rng.IntN(2) == 0 {
			f.SortBy = domain.SortOccurredAt
		}
		// Types and severity come from the grid's merge, or from the walk
		// (gridIdx) when they match a large share.
		switch rng.IntN(4) {
		case 0:
			f.Types = []domain.IncidentType{"riot"}
		case 1:
			f.Types = []domain.IncidentType{"protest", "riot"}
			sev := 2
			f.SeverityMin = &sev
		}
		want, err := tree.FindIncidents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []*Store{grid, gridIdx} {
			got, err := st.FindIncidents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			idsOf := func(p *domain.IncidentPage) []int64 {
				var out []int64
				for _, h := range p.Items {
					out = append(out, h.ID)
				}
				return out
			}
			if !slices.Equal(idsOf(got), idsOf(want)) || (want.Matched >= 0 && got.Matched != want.Matched) {
				t.Errorf("query %d %+v near %+v: grid %d matched %d items, tree %d matched %d items", q, f.BBox, f.Near, got.Matched, len(got.Items), want.Matched, len(want.Items))
			}
		}
		// Walk by cursor with a small limit on each store; the concatenation
		// must equal the single big page of the tree.
		for _, st := range []*Store{tree, grid, gridIdx} {
			g := f
			g.Page = domain.Page{Limit: 37}
			var all []int64
			for n := 0; n < 200; n++ {
				p, err := st.FindIncidents(ctx, g)
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range p.Items {
					all = append(all, h.ID)
				}
				if p.Next == nil {
					break
				}
				g.Page.Cursor = p.Next
			}
			var wantIDs []int64
			for _, h := range want.Items {
				wantIDs = append(wantIDs, h.ID)
			}
			if !slices.Equal(all, wantIDs) {
				t.Errorf("query %d: cursor walk %d ids, want %d", q, len(all), len(wantIDs))
			}
		}
	}
}
