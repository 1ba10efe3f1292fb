package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// TestGridAndCacheFollowAnotherWriter reads through a store with the grid
// and its incident cache while another store on the same file — as another
// process would — edits, moves and deletes incidents the first has cached.
// Every read after a write must show it, on the merge and the wide paths.
func TestGridAndCacheFollowAnotherWriter(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"grid merge", Options{}},
		{"index walk", Options{GridMergeCells: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "shared.db")
			writer := openAt(t, path, Options{NoGrid: true})
			tc.opts.Durability = DurabilityNormal
			reader := openAt(t, path, tc.opts)
			box := geo.BBox{MinLon: 44, MinLat: 33, MaxLon: 45, MaxLat: 34}.Bounds()
			var ids []int64
			for i := range 40 {
				inc := domain.Incident{Location: orb.Point{44.05 + float64(i%8)*0.1, 33.05 + float64(i/8)*0.1}, Type: "protest",
					Title: fmt.Sprintf("incident %d", i), OccurredAt: time.Date(2018, 9, 1+i%28, i, 0, 0, 0, time.UTC)}
				if err := writer.CreateIncident(ctx, &inc); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, inc.ID)
			}
			find := func() map[int64]domain.IncidentHit {
				t.Helper()
				page, err := reader.FindIncidents(ctx, domain.IncidentFilter{BBox: box, Page: domain.Page{Limit: 100}})
				if err != nil {
					t.Fatal(err)
				}
				if page.Matched != len(page.Items) {
					t.Errorf("numberMatched %d, %d items", page.Matched, len(page.Items))
				}
				out := map[int64]domain.IncidentHit{}
				for _, h := range page.Items {
					out[h.ID] = h
				}
				return out
			}
			if got := find(); len(got) != 40 {
				t.Fatalf("%d incidents before the edits, want 40", len(got))
			}
			find() // served from the cache now

			edited, _ := writer.FindIncidentByID(ctx, ids[3])
			edited.Title = "edited elsewhere"
			moved, _ := writer.FindIncidentByID(ctx, ids[5])
			moved.Location = orb.Point{50, 20}
			for _, err := range []error{
				writer.ReplaceIncident(ctx, ids[3], edited, 0),
				writer.ReplaceIncident(ctx, ids[5], moved, 0),
				writer.DeleteIncident(ctx, ids[7], 0),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			got := find()
			if len(got) != 38 {
				t.Errorf("%d incidents after moving and deleting one each, want 38", len(got))
			}
			if h := got[ids[3]]; h.Title != "edited elsewhere" || h.Version != 2 {
				t.Errorf("edited incident reads %q version %d", h.Title, h.Version)
			}
			for _, id := range []int64{ids[5], ids[7]} {
				if _, ok := got[id]; ok {
					t.Errorf("incident %d is still in the box", id)
				}
			}
		})
	}
}

// TestCacheUnderConcurrentWrites has one store rewrite titles while
// readers page through another; once the writes stop, every read shows the
// last title of every incident, which a stale cache entry would break.
func TestCacheUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	writer := openAt(t, path, Options{NoGrid: true})
	reader := openAt(t, path, Options{})
	box := geo.BBox{MinLon: 44, MinLat: 33, MaxLon: 45, MaxLat: 34}.Bounds()
	var ids []int64
	for i := range 20 {
		inc := domain.Incident{Location: orb.Point{44.1 + float64(i)*0.04, 33.5}, Type: "protest", Title: "v0",
			OccurredAt: time.Date(2018, 9, 1, i, 0, 0, 0, time.UTC)}
		if err := writer.CreateIncident(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inc.ID)
	}
	const rounds = 15
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := reader.FindIncidents(ctx, domain.IncidentFilter{BBox: box, Page: domain.Page{Limit: 100}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for r := 1; r <= rounds; r++ {
		for _, id := range ids {
			inc, err := writer.FindIncidentByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			inc.Title = fmt.Sprintf("v%d", r)
			if err := writer.ReplaceIncident(ctx, id, inc, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	page, err := reader.FindIncidents(ctx, domain.IncidentFilter{BBox: box, Page: domain.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != len(ids) {
		t.Fatalf("%d items, want %d", len(page.Items), len(ids))
	}
	for _, h := range page.Items {
		if want := fmt.Sprintf("v%d", rounds); h.Title != want || h.Version != rounds+1 {
			t.Errorf("incident %d reads %q version %d after the writes, want %q version %d", h.ID, h.Title, h.Version, want, rounds+1)
		}
	}
}

func openAt(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	opts.Durability = DurabilityNormal
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestCacheRefusesReadsOlderThanACatchUp pins the rule that keeps the cache
// true: rows read for ids chosen before the grid caught up with a change
// may predate it, so they are not stored.
func TestCacheRefusesReadsOlderThanACatchUp(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "cache.db"), Options{})
	inc := domain.Incident{Location: orb.Point{44.3, 33.3}, Type: "protest", Title: "t", OccurredAt: time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.CreateIncident(ctx, &inc); err != nil {
		t.Fatal(err)
	}
	g, err := s.currentGrid(ctx)
	if err != nil || g == nil {
		t.Fatalf("grid %v, %v", g, err)
	}
	cached := func() bool { return s.grid.Cache().Get([]int64{inc.ID}, nil)[0] != nil }
	for _, tc := range []struct {
		name    string
		applied int64
		want    bool
	}{
		{"ids chosen before the last catch-up", g.Version() - 1, false},
		{"ids chosen at the grid's state", g.Version(), true},
	} {
		got, err := s.grid.Cache().Incidents(ctx, g, tc.applied, []int64{inc.ID}, s.readIncidents)
		if err != nil || len(got) != 1 || got[0].Title != "t" {
			t.Fatalf("%s: read %v, %v", tc.name, got, err)
		}
		if cached() != tc.want {
			t.Errorf("%s: cached %v, want %v", tc.name, cached(), tc.want)
		}
	}
}
