package sqlite

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// An id that went to farCellOf is lost once cellOf grows past it: remove
// finds nothing, so the entry stays in the grid for good.
func TestGridFindsFarIDsAfterTheDenseRangeGrows(t *testing.T) {
	g := newGrid()
	e := func(id int64) gridEntry { return gridEntry{at: id, id: id, lon: 44.5, lat: 33.5} }
	g.add(e(1))
	g.add(e(2_000_000)) // far: 2e6 >= 2 + 1<<20
	g.add(e(1_000_000)) // dense: cellOf grows to 1e6+1
	g.add(e(2_000_001)) // dense now (< 1e6+1 + 1<<20): cellOf grows past 2e6
	g.remove(2_000_000)
	q := newGridQuery(domain.IncidentFilter{BBox: geo.BBox{MinLon: 44, MinLat: 33, MaxLon: 45, MaxLat: 34}.Bounds()})
	if n := g.count(&q); n != 3 {
		t.Errorf("count after removing id 2000000: %d, want 3", n)
	}
	g.remove(2_000_000)
	g.add(e(2_000_000)) // a move: catchUp does remove+add
	ids := g.page(&q, false, nil, 10)
	t.Logf("page ids: %v", ids)
	seen := map[int64]int{}
	for _, id := range ids {
		seen[id]++
	}
	if seen[2_000_000] > 1 {
		t.Errorf("id 2000000 listed %d times", seen[2_000_000])
	}
}

// The same through the store: a grid built over rows whose ids are not in
// occurred_at order keeps a deleted incident.
func TestGridForgetsDeletedIncidentsWithFarIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "far.db")
	writer := openAt(t, path, Options{NoGrid: true})
	var created []int64
	for i := range 4 {
		inc := domain.Incident{Location: orb.Point{44.5, 33.5}, Type: "protest", Title: "t",
			OccurredAt: time.Date(2018, 1, 1+i, 0, 0, 0, 0, time.UTC)}
		if err := writer.CreateIncident(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		created = append(created, inc.ID)
	}
	// Renumber so that id order differs from occurred_at order, as in a
	// database of more than 1<<20 incidents imported out of time order.
	for i, want := range []int64{1, 2_000_000, 1_000_000, 2_000_001} {
		for _, tbl := range []string{"incidents", "incidents_rtree"} {
			if err := writer.write.Exec(`UPDATE `+tbl+` SET id = ? WHERE id = ?`, want, created[i]).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	reader := openAt(t, path, Options{})
	if err := writer.DeleteIncident(ctx, 2_000_000, 0); err != nil {
		t.Fatal(err)
	}
	page, err := reader.FindIncidents(ctx, domain.IncidentFilter{BBox: geo.BBox{MinLon: 44, MinLat: 33, MaxLon: 45, MaxLat: 34}.Bounds(), Page: domain.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if page.Matched != 3 || len(page.Items) != 3 {
		t.Errorf("after deleting one of 4: numberMatched %d, %d items; want 3, 3", page.Matched, len(page.Items))
	}
}

// An incident deleted between the grid choosing a page's ids and their rows
// being read leaves the page short and without a next cursor, though more
// incidents follow: a client paging by next links stops early.
func TestGridPageKeepsNextWhenARowVanishes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "next.db")
	writer := openAt(t, path, Options{NoGrid: true})
	reader := openAt(t, path, Options{})
	var ids []int64
	for i := range 4 {
		inc := domain.Incident{Location: orb.Point{44.5, 33.5}, Type: "protest", Title: "t",
			OccurredAt: time.Date(2018, 1, 1+i, 0, 0, 0, 0, time.UTC)}
		if err := writer.CreateIncident(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inc.ID)
	}
	g, err := reader.currentGrid(ctx)
	if err != nil || g == nil {
		t.Fatal(g, err)
	}
	// The newest (first in default desc order) is deleted after the grid
	// has been read; findInGrid without catching up is that window.
	if err := writer.DeleteIncident(ctx, ids[3], 0); err != nil {
		t.Fatal(err)
	}
	f := domain.IncidentFilter{BBox: geo.BBox{MinLon: 44, MinLat: 33, MaxLon: 45, MaxLat: 34}.Bounds(), Page: domain.Page{Limit: 2}}
	page, err := reader.findInGrid(ctx, g, f, orderOf(f.SortBy))
	if err != nil {
		t.Fatal(err)
	}
	if page.Next == nil {
		t.Errorf("%d items and no next cursor, but incident %d is still to come", len(page.Items), ids[0])
	}
}

// A backfill of older incidents imported after newer ones: their high ids
// come first in the build's (occurred_at, id) order.
func TestGridReachesEveryIDOfABackfill(t *testing.T) {
	g := newGrid()
	var order []int64
	back := make([]int64, 0, 500_000)
	for id := int64(1_000_001); id <= 1_500_000; id++ {
		back = append(back, id)
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(back), func(i, j int) { back[i], back[j] = back[j], back[i] })
	order = append(order, back...)
	for id := int64(1); id <= 1_000_000; id++ {
		order = append(order, id)
	}
	for _, id := range order {
		g.setCellOf(id, 7)
	}
	lost := 0
	for id := int64(1); id <= 1_500_000; id++ {
		if g.cellOfID(id) == 0 {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of 1,500,000 ids unreachable by cellOfID: their updates and deletes never leave the grid", lost)
	}
}

// entry finds an incident by id wherever its slot lives: dense, far, and
// far until cellOf grew past it and setMeta moved it; a removed one is gone.
func TestGridEntryByIDAcrossTheDenseRange(t *testing.T) {
	g := newGrid()
	e := func(id int64) gridEntry { return gridEntry{at: 1_000 + id%7, id: id, lon: 44.5, lat: 33.5} }
	ids := []int64{1, 2_000_000, 1_000_000, 2_000_001, 5_000_000}
	for _, id := range ids {
		g.add(e(id)) // 2e6 goes far, then cellOf grows past it; 5e6 stays far
	}
	for _, id := range ids {
		g.setMeta(id, newIncidentMeta(3, "protest"))
	}
	for _, id := range ids {
		got := g.entry(id)
		if got == nil || *got != e(id) {
			t.Errorf("entry(%d) = %v, want %v", id, got, e(id))
		}
		if m := g.meta(id); m.severity() != 3 || domain.IncidentTypes[m.typeIndex()-1] != "protest" {
			t.Errorf("meta(%d): severity %d, type index %d", id, m.severity(), m.typeIndex())
		}
	}
	g.remove(2_000_000)
	g.remove(5_000_000)
	for _, id := range []int64{2_000_000, 5_000_000, 3} {
		if got := g.entry(id); got != nil {
			t.Errorf("entry(%d) = %v after removal, want nil", id, got)
		}
	}
}
