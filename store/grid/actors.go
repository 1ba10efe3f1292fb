package grid

import (
	"cmp"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/postwatch/postwatch/domain"
)

// actorIndex keeps, for each actor, the ids of the live incidents naming it
// (directly, in any role) sorted by (occurred_at, id), so that an actor
// filter's count within a time window is two binary searches and its
// newest page is the end of that window, with no row read. Each incident's
// set of actors is interned (incidents share a few sets), so that a change
// finds the lists to take the incident out of: 4 bytes per incident beside
// cellOf, and 8 per attribution in the lists; times come from atOf.
type actorIndex struct {
	byName map[string]int32 // actor id → its index in lists
	lists  [][]int64        // by actor index: incident ids sorted by (at, id)
	// setOf is an incident's actor set (its index in sets + 1; 0: none), by
	// id over cellOf's dense range; farSetOf holds the ids past it.
	setOf    []uint32
	farSetOf map[int64]uint32
	sets     [][]int32         // interned sets of actor indexes, ascending
	setIDs   map[string]uint32 // a set's key (setKey) → its index in sets + 1
	single   []uint32          // by actor index: the set of that actor alone, once made
	unsorted bool              // AddActor appended; Compact sorts
}

// AddActor records, while the grid is built (see Add), that the incidents
// of ids name actor; ids not in the grid (deleted) and repeats are
// skipped. Compact then sorts each actor's list.
func (g *Grid) AddActor(actor string, ids []int64) {
	x := &g.actors
	a := x.index(actor)
	for _, id := range ids {
		if g.cellOfID(id) == 0 {
			continue
		}
		s, added := x.with(x.setOfID(id), a)
		if !added {
			continue
		}
		x.setSet(g, id, s)
		x.lists[a] = append(x.lists[a], id)
		x.unsorted = true
	}
}

// sortActors puts each actor's list in (at, id) order after a build.
func (g *Grid) sortActors() {
	if !g.actors.unsorted {
		return
	}
	for _, l := range g.actors.lists {
		g.sortIDs(l)
	}
	g.actors.unsorted = false
}

// sortIDs sorts ids of the grid by (at, id), with each time read once.
func (g *Grid) sortIDs(l []int64) {
	type key struct{ at, id int64 }
	keys := make([]key, len(l))
	for i, id := range l {
		keys[i] = key{g.atOfID(id), id}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	for i, k := range keys {
		l[i] = k.id
	}
}

// actorBatch is the number of changes from which a catch-up rebuilds the
// lists it touches instead of editing them in place: an edit moves the
// tail of a list (the busiest actor's can hold a fifth of all incidents),
// so a catch-up after a large re-import would move it once per change.
const actorBatch = 256

// actorChanges carries one catch-up's changes of attribution (see apply):
// below actorBatch changes each incident leaves and joins its lists in
// place; from it, leave and join only record the incident's set and the
// lists touched, and end rebuilds those lists once.
type actorChanges struct {
	g       *Grid
	changed map[int64]bool // nil: edit in place
	dirty   map[int32]bool // lists to rebuild
}

func (g *Grid) beginActors(changes []Change) *actorChanges {
	ac := &actorChanges{g: g}
	if len(changes) >= actorBatch {
		ac.changed = make(map[int64]bool, len(changes))
		ac.dirty = map[int32]bool{}
		for _, c := range changes {
			ac.changed[c.Entry.ID] = true
		}
	}
	return ac
}

// leave takes an incident out of its actors; it runs before Remove.
func (ac *actorChanges) leave(id int64) {
	if ac.changed == nil {
		ac.g.dropActors(id)
		return
	}
	x := &ac.g.actors
	if s := x.setOfID(id); s != 0 {
		for _, a := range x.sets[s-1] {
			ac.dirty[a] = true
		}
		x.setSet(ac.g, id, 0)
	}
}

// join gives a live incident, already added, its actors.
func (ac *actorChanges) join(id int64, actors []string) {
	if ac.changed == nil {
		ac.g.setActors(id, actors)
		return
	}
	x := &ac.g.actors
	var s uint32
	for _, name := range actors {
		a := x.index(name)
		s, _ = x.with(s, a)
		ac.dirty[a] = true
	}
	x.setSet(ac.g, id, s)
}

// end rebuilds each list the batch touched: its unchanged incidents and
// the changed ones that name its actor now, sorted.
func (ac *actorChanges) end() {
	if ac.changed == nil {
		return
	}
	x := &ac.g.actors
	joined := map[int32][]int64{}
	for id := range ac.changed {
		if s := x.setOfID(id); s != 0 {
			for _, a := range x.sets[s-1] {
				joined[a] = append(joined[a], id)
			}
		}
	}
	for a := range ac.dirty {
		l := slices.DeleteFunc(x.lists[a], func(id int64) bool { return ac.changed[id] })
		l = append(l, joined[a]...)
		ac.g.sortIDs(l)
		x.lists[a] = l
	}
}

// dropActors takes an incident out of its actors' lists; it runs before
// Remove, while atOf still holds the time the lists are sorted by.
func (g *Grid) dropActors(id int64) {
	x := &g.actors
	s := x.setOfID(id)
	if s == 0 {
		return
	}
	at := g.atOfID(id)
	for _, a := range x.sets[s-1] {
		l := x.lists[a]
		if i, found := g.searchIDs(l, at, id); found {
			x.lists[a] = slices.Delete(l, i, i+1)
		}
	}
	x.setSet(g, id, 0)
}

// setActors puts a live incident, already added, into its actors' lists.
func (g *Grid) setActors(id int64, actors []string) {
	x := &g.actors
	at := g.atOfID(id)
	var s uint32
	for _, name := range actors {
		a := x.index(name)
		var added bool
		if s, added = x.with(s, a); !added {
			continue
		}
		i, _ := g.searchIDs(x.lists[a], at, id)
		x.lists[a] = slices.Insert(x.lists[a], i, id)
	}
	x.setSet(g, id, s)
}

// atOfID is the occurred_at of an incident in the grid.
func (g *Grid) atOfID(id int64) int64 {
	if id >= 0 && id < int64(len(g.cellOf)) && g.cellOf[id] != 0 {
		return g.atOf[id]
	}
	return g.farAtOf[id]
}

// searchIDs finds (at, id) in a list sorted by (at, id): its index, or
// where it would go.
func (g *Grid) searchIDs(l []int64, at, id int64) (int, bool) {
	return slices.BinarySearchFunc(l, id, func(x, id int64) int {
		if c := cmp.Compare(g.atOfID(x), at); c != 0 {
			return c
		}
		return cmp.Compare(x, id)
	})
}

func (x *actorIndex) index(name string) int32 {
	a, ok := x.byName[name]
	if !ok {
		if x.byName == nil {
			x.byName = map[string]int32{}
			x.setIDs = map[string]uint32{}
		}
		a = int32(len(x.lists))
		x.byName[name] = a
		x.lists = append(x.lists, nil)
		x.single = append(x.single, 0)
	}
	return a
}

func (x *actorIndex) setOfID(id int64) uint32 {
	if id >= 0 && id < int64(len(x.setOf)) && x.setOf[id] != 0 {
		return x.setOf[id]
	}
	return x.farSetOf[id]
}

// setSet records an incident's set: densely over cellOf's range, which
// setCellOf has already grown to hold the id when it is dense.
func (x *actorIndex) setSet(g *Grid, id int64, s uint32) {
	if id >= 0 && id < int64(len(g.cellOf)) {
		if n := len(g.cellOf); len(x.setOf) < n {
			x.setOf = append(x.setOf, make([]uint32, n-len(x.setOf))...)
		}
		x.setOf[id] = s
		if len(x.farSetOf) > 0 {
			delete(x.farSetOf, id)
		}
		return
	}
	if s == 0 {
		delete(x.farSetOf, id)
		return
	}
	if x.farSetOf == nil {
		x.farSetOf = map[int64]uint32{}
	}
	x.farSetOf[id] = s
}

// with is set s (an index into sets + 1; 0 is empty) with actor a added,
// and whether a was not in s already. Sets are interned and never freed:
// there are at most as many as distinct combinations of actors ever named.
func (x *actorIndex) with(s uint32, a int32) (uint32, bool) {
	if s == 0 && x.single[a] != 0 {
		return x.single[a], true
	}
	var members []int32
	if s != 0 {
		members = x.sets[s-1]
	}
	i, found := slices.BinarySearch(members, a)
	if found {
		return s, false
	}
	next := slices.Insert(slices.Clone(members), i, a)
	key := setKey(next)
	if t, ok := x.setIDs[key]; ok {
		return t, true
	}
	x.sets = append(x.sets, next)
	t := uint32(len(x.sets))
	x.setIDs[key] = t
	if len(next) == 1 {
		x.single[a] = t
	}
	return t, true
}

func setKey(members []int32) string {
	b := make([]byte, 0, 4*len(members))
	for _, a := range members {
		b = binary.LittleEndian.AppendUint32(b, uint32(a))
	}
	return string(b)
}

// actorWindows are the parts of the query's actors' lists within its time
// range (actors no incident names have none).
func (g *Grid) actorWindows(q *Query) [][]int64 {
	out := make([][]int64, 0, len(q.actors))
	for _, name := range q.actors {
		a, ok := g.actors.byName[name]
		if !ok {
			continue
		}
		l := g.actors.lists[a]
		lo, hi := 0, len(l)
		if q.start != math.MinInt64 {
			lo = sort.Search(len(l), func(i int) bool { return g.atOfID(l[i]) >= q.start })
		}
		if q.end != math.MaxInt64 {
			hi = sort.Search(len(l), func(i int) bool { return g.atOfID(l[i]) > q.end })
		}
		if lo < hi {
			out = append(out, l[lo:hi])
		}
	}
	return out
}

// placed reports whether the query has a place to test.
func (q *Query) placed() bool {
	return q.near != nil || len(q.bounds) != 1 || q.bounds[0] != worldBound
}

// actorMatch is the entry of an incident of the query's actors within its
// time range if it passes the query's place, type and severity; nil if
// not. Without a place the entry is found only when want says so.
func (g *Grid) actorMatch(q *Query, id int64, want bool) (*Entry, bool) {
	if q.sifted() && !q.metaMatches(g.meta(id)) {
		return nil, false
	}
	if !q.placed() && !want {
		return nil, true
	}
	e := g.entry(id)
	if e == nil || (q.placed() && !q.matches(e)) {
		return nil, false
	}
	return e, true
}

// countActors counts the query's matches among its actors' incidents: the
// window's length for one actor and no place, type or severity.
func (g *Grid) countActors(q *Query) int {
	ws := g.actorWindows(q)
	if len(ws) == 1 && !q.placed() && !q.sifted() {
		return len(ws[0])
	}
	n := 0
	g.eachOfActors(ws, false, func(id int64) bool {
		if _, ok := g.actorMatch(q, id, false); ok {
			n++
		}
		return true
	})
	return n
}

// eachOfActorsMatch calls fn (with a nil cell) for every match of a
// query with actors, for Clusters.
func (g *Grid) eachOfActorsMatch(q *Query, fn func(c *gridCell, e *Entry)) {
	g.eachOfActors(g.actorWindows(q), false, func(id int64) bool {
		if e, ok := g.actorMatch(q, id, true); ok {
			fn(nil, e)
		}
		return true
	})
}

// pageActors is Page for a query with actors: the window's entries from
// its end (or start), past the cursor, that pass the query.
func (g *Grid) pageActors(q *Query, desc bool, cursor *domain.Cursor, n int) []int64 {
	ws := g.actorWindows(q)
	if cursor != nil {
		for i, w := range ws {
			j, found := g.searchIDs(w, cursor.Key, cursor.ID)
			if desc {
				ws[i] = w[:j]
			} else {
				if found {
					j++
				}
				ws[i] = w[j:]
			}
		}
	}
	ids := make([]int64, 0, min(n, 1024))
	g.eachOfActors(ws, desc, func(id int64) bool {
		if _, ok := g.actorMatch(q, id, false); ok {
			ids = append(ids, id)
		}
		return len(ids) < n
	})
	return ids
}

// eachOfActors calls fn with the ids of the windows in (at, id) order,
// descending when desc, each once though several actors name it, until fn
// returns false. A merge of a few windows picks the next head by a linear
// look: filters name a handful of actors.
func (g *Grid) eachOfActors(ws [][]int64, desc bool, fn func(id int64) bool) {
	if len(ws) == 1 {
		w := ws[0]
		for i := range w {
			if desc {
				i = len(w) - 1 - i
			}
			if !fn(w[i]) {
				return
			}
		}
		return
	}
	type head struct {
		w  []int64
		at int64
	}
	heads := make([]head, 0, len(ws))
	for _, w := range ws {
		if len(w) > 0 {
			heads = append(heads, head{w: w})
		}
	}
	next := func(h *head) int64 {
		if desc {
			return h.w[len(h.w)-1]
		}
		return h.w[0]
	}
	for i := range heads {
		heads[i].at = g.atOfID(next(&heads[i]))
	}
	last := int64(-1)
	lastSet := false
	for len(heads) > 0 {
		best := 0
		for i := 1; i < len(heads); i++ {
			c := cmp.Compare(heads[i].at, heads[best].at)
			if c == 0 {
				c = cmp.Compare(next(&heads[i]), next(&heads[best]))
			}
			if (c < 0) != desc && c != 0 {
				best = i
			}
		}
		h := &heads[best]
		id := next(h)
		if !lastSet || id != last {
			if !fn(id) {
				return
			}
			last, lastSet = id, true
		}
		if desc {
			h.w = h.w[:len(h.w)-1]
		} else {
			h.w = h.w[1:]
		}
		if len(h.w) == 0 {
			heads = slices.Delete(heads, best, best+1)
		} else {
			h.at = g.atOfID(next(h))
		}
	}
}

// AddActorLists gives the grid, while it is built, each actor's incidents
// from rows of (actor id, its incident ids joined by commas): one value per
// actor through the driver costs far less than a row per id. Attributions
// of deleted incidents are skipped (see AddActor).
func (g *Grid) AddActorLists(rows *sql.Rows) error {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var actor, list string
		if err := rows.Scan(&actor, &list); err != nil {
			return err
		}
		ids = ids[:0]
		for part := range strings.SplitSeq(list, ",") {
			id, err := strconv.ParseInt(part, 10, 64)
			if err != nil {
				return fmt.Errorf("incident id %q of actor %q: %w", part, actor, err)
			}
			ids = append(ids, id)
		}
		g.AddActor(actor, ids)
	}
	return rows.Err()
}
