package grid

import (
	"math/rand/v2"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// An id that went to farCellOf is lost once cellOf grows past it: remove
// finds nothing, so the entry stays in the grid for good.
func TestGridFindsFarIDsAfterTheDenseRangeGrows(t *testing.T) {
	g := New()
	e := func(id int64) Entry { return Entry{At: id, ID: id, Lon: 44.5, Lat: 33.5} }
	g.Add(e(1))
	g.Add(e(2_000_000)) // far: 2e6 >= 2 + 1<<20
	g.Add(e(1_000_000)) // dense: cellOf grows to 1e6+1
	g.Add(e(2_000_001)) // dense now (< 1e6+1 + 1<<20): cellOf grows past 2e6
	g.Remove(2_000_000)
	q := NewQuery(domain.IncidentFilter{BBox: geo.BBox{MinLon: 44, MinLat: 33, MaxLon: 45, MaxLat: 34}.Bounds()})
	if n := g.Count(&q); n != 3 {
		t.Errorf("count after removing id 2000000: %d, want 3", n)
	}
	g.Remove(2_000_000)
	g.Add(e(2_000_000)) // a move: catchUp does remove+add
	ids := g.Page(&q, false, nil, 10)
	t.Logf("page ids: %v", ids)
	seen := map[int64]int{}
	for _, id := range ids {
		seen[id]++
	}
	if seen[2_000_000] > 1 {
		t.Errorf("id 2000000 listed %d times", seen[2_000_000])
	}
}

// A backfill of older incidents imported after newer ones: their high ids
// come first in the build's (occurred_at, id) order.
func TestGridReachesEveryIDOfABackfill(t *testing.T) {
	g := New()
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
	g := New()
	e := func(id int64) Entry { return Entry{At: 1_000 + id%7, ID: id, Lon: 44.5, Lat: 33.5} }
	ids := []int64{1, 2_000_000, 1_000_000, 2_000_001, 5_000_000}
	for _, id := range ids {
		g.Add(e(id)) // 2e6 goes far, then cellOf grows past it; 5e6 stays far
	}
	for _, id := range ids {
		g.SetMeta(id, NewMeta(3, "protest"))
	}
	for _, id := range ids {
		want := e(id)
		want.Meta = NewMeta(3, "protest")
		got := g.entry(id)
		if got == nil || *got != want {
			t.Errorf("entry(%d) = %v, want %v", id, got, want)
		}
		if m := g.meta(id); m.severity() != 3 || domain.IncidentTypes[m.typeIndex()-1] != "protest" {
			t.Errorf("meta(%d): severity %d, type index %d", id, m.severity(), m.typeIndex())
		}
	}
	g.Remove(2_000_000)
	g.Remove(5_000_000)
	for _, id := range []int64{2_000_000, 5_000_000, 3} {
		if got := g.entry(id); got != nil {
			t.Errorf("entry(%d) = %v after removal, want nil", id, got)
		}
	}
}
