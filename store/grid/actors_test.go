package grid

import (
	"slices"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// TestActorLists builds a grid's actor lists with dense and far ids, moves
// attributions and times through apply, and checks counts and pages by
// actor against the attributions held aside.
func TestActorLists(t *testing.T) {
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	g := New()
	type inc struct {
		at     time.Time
		actors []string
	}
	live := map[int64]inc{}
	far := int64(1 << 40) // past the dense range: kept in the far maps
	for _, id := range []int64{1, 2, 3, 4, 5, far, far + 1} {
		at := base.Add(time.Duration(id%97) * time.Hour)
		g.Add(Entry{At: at.UnixMicro(), ID: id, Lon: 10, Lat: 10})
		g.SetMeta(id, NewMeta(2, "riot"))
		live[id] = inc{at: at}
	}
	name := map[string][]int64{"a": {1, 2, 3, far, 99}, "b": {2, 2, far + 1}} // 99 is not live: skipped
	for actor, ids := range name {
		g.AddActor(actor, ids)
		for _, id := range ids {
			if i, ok := live[id]; ok && !slices.Contains(i.actors, actor) {
				i.actors = append(i.actors, actor)
				live[id] = i
			}
		}
	}
	g.Compact()
	check := func(stage string) {
		t.Helper()
		for _, actors := range [][]string{{"a"}, {"b"}, {"a", "b"}, {"c"}} {
			var want []int64
			for id, i := range live {
				for _, a := range i.actors {
					if slices.Contains(actors, a) {
						want = append(want, id)
						break
					}
				}
			}
			slices.SortFunc(want, func(x, y int64) int {
				if c := live[y].at.Compare(live[x].at); c != 0 {
					return c
				}
				return int(y - x)
			})
			q := NewQuery(domain.IncidentFilter{ActorIDs: actors})
			if n := g.Count(&q); n != len(want) {
				t.Errorf("%s: Count(%v) = %d, want %d", stage, actors, n, len(want))
			}
			if ids := g.Page(&q, true, nil, 100); !slices.Equal(ids, want) {
				t.Errorf("%s: Page(%v) = %v, want %v", stage, actors, ids, want)
			}
		}
	}
	check("built")
	// 3 moves in time and changes actor; far leaves a; far+1 is deleted.
	at := base.Add(500 * time.Hour)
	g.apply([]Change{
		{Entry: Entry{At: at.UnixMicro(), ID: 3, Lon: 10, Lat: 10}, Meta: NewMeta(2, "riot"), Actors: []string{"b", "c", "b"}},
		{Entry: Entry{At: live[far].at.UnixMicro(), ID: far, Lon: 10, Lat: 10}, Meta: NewMeta(2, "riot")},
		{Entry: Entry{ID: far + 1}, Gone: true},
	})
	live[3] = inc{at: at, actors: []string{"b", "c"}}
	live[far] = inc{at: live[far].at}
	delete(live, far+1)
	check("after changes")
}
