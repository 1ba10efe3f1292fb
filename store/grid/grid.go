// Package grid is an in-memory index of every live incident's place and
// time: 0.1° cells, each holding its incidents sorted by (occurred_at, id),
// grouped in 1° blocks that keep their totals. A dashboard's box then costs
// a few cell lookups and a merge of sorted lists instead of a walk over an
// index spread across fifteen years of time, and numberMatched is exact at
// any size. Rows stay in the database: the grid holds 40 bytes per incident
// and answers which ids make the page, in order.
//
// The grid knows no engine: each engine builds it from its incidents and
// keeps it true from its own change feed (its history table), applying
// every incident a write touched with Remove then Add.
package grid

import (
	"cmp"
	"container/heap"
	"math"
	"slices"
	"sync"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
)

const (
	cellsPerDegree = 10
	gridCols       = 360 * cellsPerDegree
	gridRows       = 180 * cellsPerDegree
	blockSide      = cellsPerDegree // cells per block side: a block is 1°×1°
	blockCols      = gridCols / blockSide
	// cellEdgeMargin absorbs rounding in the cell of a coordinate: a cell
	// counts as wholly inside a box only with this much to spare.
	cellEdgeMargin = 1e-7 // degrees
	// nearCellMargin does the same for a radius, whose distance is computed
	// to the cell's corners.
	nearCellMargin = 100.0 // meters
	// maxCoverRadius keeps the corner test far from the antipode.
	maxCoverRadius = 5_000_000.0 // meters
)

// Entry is one live incident in the grid.
type Entry struct {
	At       int64 // occurred_at, µs since the epoch
	ID       int64
	Lon, Lat float64
	// Meta is kept here as well as beside the id (see SetMeta): a filter by
	// type or severity then reads it with the place, where a lookup by id
	// landed at a random spot of a 4 MB array for every entry it tested.
	Meta Meta
}

func (e *Entry) cmp(at, id int64) int {
	if c := cmp.Compare(e.At, at); c != 0 {
		return c
	}
	return cmp.Compare(e.ID, id)
}

// gridCell holds the incidents of one 0.1° cell, sorted by (at, id).
type gridCell struct {
	cx, cy  int
	entries []Entry
	tallies tallies
}

// gridBlock groups the cells of one 1° block and counts their incidents.
type gridBlock struct {
	bx, by int
	n      int
	cells  [blockSide * blockSide]*gridCell
}

// An incident's slot in cellOf packs its cell and its meta: the cell key
// + 1 in the low 23 bits (keys stay below 3600 × 1800 < 2^23), and above
// them its severity (3 bits) and type (4 bits: its index in
// domain.IncidentTypes + 1), so that clusters and counts filtered by type
// or severity need no row, at no memory cost.
const (
	cellKeyBits = 23
	cellKeyMask = 1<<cellKeyBits - 1
)

// Meta is an incident's severity and type packed for cellOf; 0
// means not known yet (a build reads them after the places).
type Meta uint8

// NewMeta packs a severity (clamped to 0..7) and a type (unknown types
// pack as 0).
func NewMeta(severity int, t domain.IncidentType) Meta {
	ti := slices.Index(domain.IncidentTypes, t) + 1
	return Meta(min(max(severity, 0), 7) | ti<<3)
}

func (m Meta) severity() int { return int(m & 7) }

// typeIndex is the index in domain.IncidentTypes + 1; 0 when unknown.
func (m Meta) typeIndex() int { return int(m >> 3) }

// Grid is safe for concurrent use: readers hold RLock around their
// queries, and a Follower's catch-up takes the write lock.
type Grid struct {
	mu     sync.RWMutex
	blocks map[int]*gridBlock
	cellOf []int32 // by incident id: cell key + 1 and meta; 0 when not in the grid
	// farCellOf holds ids far past the dense range: engines assign ids one
	// after another, but a row written with a huge id by other means must
	// not make cellOf allocate up to it.
	farCellOf map[int64]int32
	// atOf holds each incident's occurred_at beside cellOf (farAtOf for
	// the ids in farCellOf), so that an incident known only by its id — one
	// in an actor's list — is found in its cell's sorted list and tested
	// without its row; the actors' lists are sorted by it.
	atOf    []int64
	farAtOf map[int64]int64
	actors  actorIndex
	n       int
	version int64 // see Version
}

// New returns an empty grid.
func New() *Grid { return &Grid{blocks: map[int]*gridBlock{}} }

// Presize sizes the id index for ids up to maxID before a build, which
// adds ids in time order rather than id order, unless the ids are too
// sparse for live incidents to deserve it.
func (g *Grid) Presize(maxID, live int64) {
	if maxID < 4*live+denseSlack {
		g.cellOf = make([]int32, maxID+1)
		g.atOf = make([]int64, maxID+1)
	}
}

// RLock takes the read lock that queries (Count, Page, Clusters…) and
// Version must be called under.
func (g *Grid) RLock() { g.mu.RLock() }

// RUnlock releases the read lock.
func (g *Grid) RUnlock() { g.mu.RUnlock() }

// Len is the number of incidents in the grid; the caller holds RLock.
func (g *Grid) Len() int { return g.n }

// Version counts the catch-ups that changed the grid (see Follower): it
// grows with every change this process has seen applied, so a cache keyed
// by it (a tile's bytes) is never served across a change. It is per
// process: two replicas' versions of the same data differ. The caller
// holds RLock.
func (g *Grid) Version() int64 { return g.version }

// Change is an incident's state after a write: its entry, meta and the
// ids of the actors it names directly (in any role; repeats are
// harmless), or Gone when it is no longer live (then only Entry.ID counts).
type Change struct {
	Entry  Entry
	Meta   Meta
	Actors []string
	Gone   bool
}

// apply puts each changed incident where its change says, or takes it
// out; the caller holds the write lock.
func (g *Grid) apply(changes []Change) {
	ac := g.beginActors(changes)
	for _, c := range changes {
		ac.leave(c.Entry.ID)
		g.Remove(c.Entry.ID)
		if !c.Gone {
			e := c.Entry
			e.Meta = c.Meta
			g.Add(e)
			ac.join(c.Entry.ID, c.Actors)
		}
	}
	ac.end()
}

// cellXY is the cell of a coordinate; rounding at cell edges is harmless
// because boxes and points go through the same monotone function.
func cellXY(lon, lat float64) (int, int) {
	cx := int(math.Floor((lon + 180) * cellsPerDegree))
	cy := int(math.Floor((lat + 90) * cellsPerDegree))
	return min(max(cx, 0), gridCols-1), min(max(cy, 0), gridRows-1)
}

func cellKey(cx, cy int) int { return cy*gridCols + cx }

func (g *Grid) block(bx, by int, create bool) *gridBlock {
	k := by*blockCols + bx
	b := g.blocks[k]
	if b == nil && create {
		b = &gridBlock{bx: bx, by: by}
		g.blocks[k] = b
	}
	return b
}

func (g *Grid) cell(cx, cy int, create bool) *gridCell {
	b := g.block(cx/blockSide, cy/blockSide, create)
	if b == nil {
		return nil
	}
	i := (cy%blockSide)*blockSide + cx%blockSide
	if b.cells[i] == nil && create {
		b.cells[i] = &gridCell{cx: cx, cy: cy}
	}
	return b.cells[i]
}

// Add inserts a live incident while the grid is built, before it is
// shared (a Follower changes it afterwards); appending is the fast path of a
// build that reads incidents in (occurred_at, id) order.
func (g *Grid) Add(e Entry) {
	cx, cy := cellXY(e.Lon, e.Lat)
	c := g.cell(cx, cy, true)
	i := len(c.entries)
	if i > 0 && c.entries[i-1].cmp(e.At, e.ID) > 0 {
		i, _ = slices.BinarySearchFunc(c.entries, e, func(a, b Entry) int { return a.cmp(b.At, b.ID) })
	}
	c.entries = slices.Insert(c.entries, i, e)
	c.tallies.tally(e.Meta, 1)
	g.block(cx/blockSide, cy/blockSide, false).n++
	g.setCellOf(e.ID, int32(cellKey(cx, cy)+1)|int32(e.Meta)<<cellKeyBits)
	g.setAt(e.ID, e.At)
	g.n++
}

// Compact gives each cell's list its exact size, dropping the spare
// capacity appends left behind: a quarter of the grid's memory after a build.
// It also sorts the actors' lists AddActor filled.
func (g *Grid) Compact() {
	for _, b := range g.blocks {
		for _, c := range b.cells {
			if c != nil && cap(c.entries) > len(c.entries) {
				c.entries = slices.Clone(c.entries)
			}
		}
	}
	g.sortActors()
}

// denseSlack is how far past the dense range an id may lie and still get a
// slot in cellOf.
const denseSlack = 1 << 20

func (g *Grid) cellOfID(id int64) int32 {
	if id >= 0 && id < int64(len(g.cellOf)) {
		if v := g.cellOf[id]; v != 0 || len(g.farCellOf) == 0 {
			return v
		}
	}
	return g.farCellOf[id] // an id placed here before cellOf grew past it
}

func (g *Grid) setCellOf(id int64, v int32) {
	if id >= 0 && id < int64(len(g.cellOf))+denseSlack {
		for int64(len(g.cellOf)) <= id {
			g.cellOf = append(g.cellOf, 0)
		}
		if n := len(g.cellOf); len(g.atOf) < n {
			g.atOf = append(g.atOf, make([]int64, n-len(g.atOf))...)
		}
		g.cellOf[id] = v
		if len(g.farCellOf) > 0 {
			delete(g.farCellOf, id)
		}
		// An id placed far before cellOf grew past it brings its time along.
		if at, ok := g.farAtOf[id]; ok {
			g.atOf[id] = at
			delete(g.farAtOf, id)
		}
		return
	}
	if v == 0 {
		delete(g.farCellOf, id)
		delete(g.farAtOf, id)
		return
	}
	if g.farCellOf == nil {
		g.farCellOf = map[int64]int32{}
	}
	g.farCellOf[id] = v
}

// setAt records the occurred_at of an incident setCellOf has just placed.
func (g *Grid) setAt(id, at int64) {
	if id >= 0 && id < int64(len(g.cellOf)) && g.cellOf[id] != 0 {
		g.atOf[id] = at
		return
	}
	if g.farAtOf == nil {
		g.farAtOf = map[int64]int64{}
	}
	g.farAtOf[id] = at
}

// entry is the grid's entry of a live incident, nil if it is not in the
// grid: its cell comes from cellOf, and its place in the cell's (at, id)
// order from atOf.
func (g *Grid) entry(id int64) *Entry {
	k := g.cellOfID(id) & cellKeyMask
	if k == 0 {
		return nil
	}
	at := g.farAtOf[id]
	if id >= 0 && id < int64(len(g.cellOf)) && g.cellOf[id] != 0 {
		at = g.atOf[id]
	}
	c := g.cell(int(k-1)%gridCols, int(k-1)/gridCols, false)
	if c == nil {
		return nil
	}
	i, found := slices.BinarySearchFunc(c.entries, at, func(e Entry, at int64) int { return e.cmp(at, id) })
	if !found {
		return nil
	}
	return &c.entries[i]
}

// SetMeta records the severity and type of an incident in the grid, while
// it is built, for a build that reads them apart from the places (Add
// takes them from the entry otherwise).
func (g *Grid) SetMeta(id int64, m Meta) {
	if v := g.cellOfID(id); v != 0 {
		k := int(v&cellKeyMask - 1)
		t := &g.cell(k%gridCols, k/gridCols, false).tallies
		t.tally(Meta(v>>cellKeyBits), -1)
		t.tally(m, 1)
		g.setCellOf(id, v&cellKeyMask|int32(m)<<cellKeyBits)
		if e := g.entry(id); e != nil {
			e.Meta = m
		}
	}
}

// Has reports whether the grid holds incident id, that is whether it is
// live; the caller holds RLock.
func (g *Grid) Has(id int64) bool {
	return g.cellOfID(id)&cellKeyMask != 0
}

// meta is the severity and type of an incident in the grid.
func (g *Grid) meta(id int64) Meta {
	return Meta(g.cellOfID(id) >> cellKeyBits)
}

// Remove takes an incident out of the grid if it is there (see Add).
func (g *Grid) Remove(id int64) {
	at := g.cellOfID(id) & cellKeyMask
	if at == 0 {
		return
	}
	k := int(at - 1)
	m := g.meta(id)
	g.setCellOf(id, 0)
	cx, cy := k%gridCols, k/gridCols
	c := g.cell(cx, cy, false)
	if i := slices.IndexFunc(c.entries, func(e Entry) bool { return e.ID == id }); i >= 0 {
		c.entries = slices.Delete(c.entries, i, i+1)
		c.tallies.tally(m, -1)
		g.block(cx/blockSide, cy/blockSide, false).n--
		g.n--
	}
}

// Query is a filter's place and time, its types and lowest severity,
// and its actors, ready for the grid.
type Query struct {
	bounds     []orb.Bound
	near       *domain.Near
	start, end int64 // inclusive, µs
	// types has bit i set for the type of index i in domain.IncidentTypes
	// + 1; 0 means any type. sevMin is the lowest severity; 0 means any.
	types  uint32
	sevMin int
	// actors, when not nil, limits the query to the incidents naming one
	// of them directly, in any role.
	actors []string
}

// worldBound is the whole grid, for a query with no place.
var worldBound = orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}

// NewQuery takes f's place (bbox, else near, else the world), time
// range, types, lowest severity and actors (as a direct attribution in any
// role); the grid cannot test f's other conditions — actor roles, chain
// attribution and the rest — which the caller must have ruled out.
func NewQuery(f domain.IncidentFilter) Query {
	q := Query{bounds: f.BBox, near: f.Near, start: math.MinInt64, end: math.MaxInt64, actors: f.ActorIDs}
	switch {
	case q.bounds != nil:
	case f.Near != nil:
		q.bounds = geo.RadiusBounds(f.Near.Center, f.Near.RadiusM)
	default:
		q.bounds = []orb.Bound{worldBound}
	}
	for _, t := range f.Types {
		q.types |= 1 << (slices.Index(domain.IncidentTypes, t) + 1)
	}
	if f.SeverityMin != nil {
		q.sevMin = *f.SeverityMin
	}
	if t := f.Time; t != nil {
		if t.Start != nil {
			q.start = t.Start.UnixMicro()
		}
		if t.End != nil {
			q.end = t.End.UnixMicro()
		}
	}
	return q
}

// Bounds are the boxes the query covers: its bbox, its radius's boxes, or
// the world.
func (q *Query) Bounds() []orb.Bound { return q.bounds }

func (q *Query) timed() bool { return q.start != math.MinInt64 || q.end != math.MaxInt64 }

// sifted reports whether the query tests each incident's meta, so that
// covering a block or cell no longer settles that all of it matches.
func (q *Query) sifted() bool { return q.types != 0 || q.sevMin != 0 }

// metaMatches tests an incident's type and severity.
func (q *Query) metaMatches(m Meta) bool {
	return (q.types == 0 || q.types&(1<<m.typeIndex()) != 0) && m.severity() >= q.sevMin
}

// admits tests an entry of a cell the query covers or not: its meta first,
// a byte beside it, which turns most entries away when a type is asked
// for, then its place.
func (q *Query) admits(e *Entry, covered bool) bool {
	return q.metaMatches(e.Meta) && (covered || q.matches(e))
}

// matches tests an entry's place; its time is settled by the cell's range.
func (q *Query) matches(e *Entry) bool {
	p := orb.Point{e.Lon, e.Lat}
	return geo.InBounds(p, q.bounds) && (q.near == nil || geo.Within(q.near.Center, p, q.near.RadiusM))
}

// covers reports whether every point of the rectangle matches the query.
func (q *Query) covers(minLon, minLat, maxLon, maxLat float64) bool {
	inBox := false
	for _, b := range q.bounds {
		if minLon >= b.Min[0]+cellEdgeMargin && maxLon <= b.Max[0]-cellEdgeMargin &&
			minLat >= b.Min[1]+cellEdgeMargin && maxLat <= b.Max[1]-cellEdgeMargin {
			inBox = true
			break
		}
	}
	if !inBox || q.near == nil {
		return inBox
	}
	// Distance along a parallel grows with the longitude difference and
	// along a meridian has no interior maximum short of the antipode, so the
	// farthest point of a rectangle is a corner.
	if q.near.RadiusM > maxCoverRadius {
		return false
	}
	for _, p := range []orb.Point{{minLon, minLat}, {minLon, maxLat}, {maxLon, minLat}, {maxLon, maxLat}} {
		if geo.Distance(q.near.Center, p) > q.near.RadiusM-nearCellMargin {
			return false
		}
	}
	return true
}

// cellSpan is a cell's entries within the query's time range, and whether
// the query covers the whole cell, so that they all match.
type cellSpan struct {
	cell    *gridCell
	entries []Entry
	covered bool
}

func cellRect(cx, cy int) (minLon, minLat, maxLon, maxLat float64) {
	return float64(cx)/cellsPerDegree - 180, float64(cy)/cellsPerDegree - 90,
		float64(cx+1)/cellsPerDegree - 180, float64(cy+1)/cellsPerDegree - 90
}

func blockRect(b *gridBlock) (minLon, minLat, maxLon, maxLat float64) {
	return float64(b.bx) - 180, float64(b.by) - 90, float64(b.bx+1) - 180, float64(b.by+1) - 90
}

// timeSpan narrows sorted entries to those with start <= at <= end.
func timeSpan(entries []Entry, start, end int64) []Entry {
	lo, hi := 0, len(entries)
	if start != math.MinInt64 {
		lo, _ = slices.BinarySearchFunc(entries, start, func(e Entry, t int64) int { return cmp.Compare(e.At, t) })
	}
	if end != math.MaxInt64 {
		hi, _ = slices.BinarySearchFunc(entries, end+1, func(e Entry, t int64) int { return cmp.Compare(e.At, t) })
	}
	if lo > hi {
		return nil
	}
	return entries[lo:hi]
}

// cellRange is the range of cells a bound overlaps, and how many.
func cellRange(b orb.Bound) (cx0, cy0, cx1, cy1, n int) {
	cx0, cy0 = cellXY(b.Min[0], b.Min[1])
	cx1, cy1 = cellXY(b.Max[0], b.Max[1])
	return cx0, cy0, cx1, cy1, (cx1 - cx0 + 1) * (cy1 - cy0 + 1)
}

// cellCount is an upper bound on the cells the query overlaps.
func (q *Query) CellCount() int {
	n := 0
	for _, b := range q.bounds {
		_, _, _, _, k := cellRange(b)
		n += k
	}
	return n
}

// blocks calls fn for each block that may hold matches, with whether the
// query covers it whole. Blocks are visited once even when bounds share them.
func (g *Grid) blocksOf(q *Query, fn func(b *gridBlock, covered bool)) {
	var seen map[*gridBlock]bool
	if len(q.bounds) > 1 {
		seen = map[*gridBlock]bool{}
	}
	for _, bd := range q.bounds {
		cx0, cy0, cx1, cy1, _ := cellRange(bd)
		bx0, by0, bx1, by1 := cx0/blockSide, cy0/blockSide, cx1/blockSide, cy1/blockSide
		visit := func(b *gridBlock) {
			if b == nil || b.n == 0 || b.bx < bx0 || b.bx > bx1 || b.by < by0 || b.by > by1 {
				return
			}
			if seen != nil {
				if seen[b] {
					return
				}
				seen[b] = true
			}
			fn(b, q.covers(blockRect(b)))
		}
		if (bx1-bx0+1)*(by1-by0+1) > len(g.blocks) {
			for _, b := range g.blocks {
				visit(b)
			}
			continue
		}
		for by := by0; by <= by1; by++ {
			for bx := bx0; bx <= bx1; bx++ {
				visit(g.block(bx, by, false))
			}
		}
	}
}

// spans returns the cells of a block that may hold matches, narrowed to
// the query's time range.
func (q *Query) spans(b *gridBlock, blockCovered bool, out []cellSpan) []cellSpan {
	for _, c := range b.cells {
		if c == nil || len(c.entries) == 0 {
			continue
		}
		covered := blockCovered
		if !covered {
			minLon, minLat, maxLon, maxLat := cellRect(c.cx, c.cy)
			if !q.overlaps(minLon, minLat, maxLon, maxLat) {
				continue
			}
			covered = q.covers(minLon, minLat, maxLon, maxLat)
		}
		if es := timeSpan(c.entries, q.start, q.end); len(es) > 0 {
			out = append(out, cellSpan{cell: c, entries: es, covered: covered})
		}
	}
	return out
}

// overlaps reports whether the rectangle, widened by the edge margin, meets
// one of the query's bounds.
func (q *Query) overlaps(minLon, minLat, maxLon, maxLat float64) bool {
	for _, b := range q.bounds {
		if maxLon >= b.Min[0]-cellEdgeMargin && minLon <= b.Max[0]+cellEdgeMargin &&
			maxLat >= b.Min[1]-cellEdgeMargin && minLat <= b.Max[1]+cellEdgeMargin {
			return true
		}
	}
	return false
}

// Count is the exact number of live incidents the query matches; the
// caller holds RLock. A block the query covers adds its total when no time
// range, type or severity narrows it, and a cell its tallies (see
// countSpan).
func (g *Grid) Count(q *Query) int {
	if q.actors != nil {
		return g.countActors(q)
	}
	n := 0
	var spans []cellSpan
	g.blocksOf(q, func(b *gridBlock, covered bool) {
		if covered && !q.timed() && !q.sifted() {
			n += b.n
			return
		}
		spans = q.spans(b, covered, spans[:0])
		for i := range spans {
			n += g.countSpan(q, &spans[i])
		}
	})
	return n
}

// each calls fn for every match of the query, with the cell holding it.
func (g *Grid) each(q *Query, fn func(c *gridCell, e *Entry)) {
	var spans []cellSpan
	g.blocksOf(q, func(b *gridBlock, covered bool) {
		spans = q.spans(b, covered, spans[:0])
		for _, s := range spans {
			for i := range s.entries {
				e := &s.entries[i]
				if q.admits(e, s.covered) {
					fn(s.cell, e)
				}
			}
		}
	})
}

// Clusters groups the query's matches by the web-mercator tile of zoom z
// holding them, as domain.IncidentService.ClusterIncidents does; the
// caller holds RLock.
func (g *Grid) Clusters(z int, q *Query) []domain.IncidentCluster {
	if q.actors != nil {
		return g.clusters(z, func(fn func(*gridCell, *Entry)) { g.eachOfActorsMatch(q, fn) })
	}
	return g.clusters(z, func(fn func(*gridCell, *Entry)) { g.each(q, fn) })
}

// clusters groups the matches each yields by the web-mercator tile of zoom
// z holding them, as domain.IncidentService.ClusterIncidents does. Where
// each names the cell of a run of entries and the whole cell lies in one
// tile (the tile of both its corners: the projection is monotone), they are
// summed without projecting each, which is every cell up to zoom 9 or so.
func (g *Grid) clusters(z int, each func(fn func(c *gridCell, e *Entry))) []domain.IncidentCluster {
	type sums struct {
		n, maxSev int
		lon, lat  float64
	}
	last := float64(uint32(1)<<z - 1)
	tileOf := func(lon, lat float64) [2]uint32 {
		f := maptile.Fraction(orb.Point{lon, lat}, maptile.Zoom(z))
		return [2]uint32{uint32(min(max(math.Floor(f[0]), 0), last)), uint32(min(max(math.Floor(f[1]), 0), last))}
	}
	byTile := map[[2]uint32]*sums{}
	var cell *gridCell
	var whole *sums // the sums of the tile holding all of cell, if one does
	each(func(c *gridCell, e *Entry) {
		if c != cell && c != nil {
			cell, whole = c, nil
			minLon, minLat, maxLon, maxLat := cellRect(c.cx, c.cy)
			if k := tileOf(minLon, maxLat); k == tileOf(maxLon, minLat) {
				whole = byTile[k]
				if whole == nil {
					whole = &sums{}
					byTile[k] = whole
				}
			}
		}
		t := whole
		if c == nil || t == nil {
			k := tileOf(e.Lon, e.Lat)
			if t = byTile[k]; t == nil {
				t = &sums{}
				byTile[k] = t
			}
		}
		t.n++
		t.lon += e.Lon
		t.lat += e.Lat
		t.maxSev = max(t.maxSev, e.Meta.severity())
	})
	out := make([]domain.IncidentCluster, 0, len(byTile))
	for k, t := range byTile {
		out = append(out, domain.IncidentCluster{X: k[0], Y: k[1], Count: t.n, MaxSeverity: t.maxSev,
			Center: orb.Point{store.ClampMean(t.lon, t.n, 180), store.ClampMean(t.lat, t.n, 90)}})
	}
	return out
}

// Page returns the ids of up to n matches in page order (by occurred_at,
// then id; descending when desc) after the cursor; the caller holds RLock.
func (g *Grid) Page(q *Query, desc bool, cursor *domain.Cursor, n int) []int64 {
	if q.actors != nil {
		return g.pageActors(q, desc, cursor, n)
	}
	var spans []cellSpan
	g.blocksOf(q, func(b *gridBlock, covered bool) {
		spans = q.spans(b, covered, spans)
	})
	m := &cellMerge{desc: desc}
	for _, s := range spans {
		if q.sifted() && s.covered && len(s.entries) == len(s.cell.entries) && g.countSpan(q, &s) == 0 {
			continue // its tallies say no entry matches: seek would read them all
		}
		es := s.entries
		if cursor != nil {
			// Keep only entries past the cursor in page order.
			i, found := slices.BinarySearchFunc(es, cursor, func(e Entry, c *domain.Cursor) int { return e.cmp(c.Key, c.ID) })
			if desc {
				es = es[:i]
			} else {
				if found {
					i++
				}
				es = es[i:]
			}
		}
		h := cellHead{entries: es, covered: s.covered}
		if h.seek(q, desc) {
			m.heads = append(m.heads, h)
		}
	}
	// Each head's next entry is a match, so the heap moves once per id of
	// the page, not once per entry a filter turns away.
	heap.Init(m)
	ids := make([]int64, 0, min(n, 1024))
	for len(ids) < n && m.Len() > 0 {
		h := &m.heads[0]
		ids = append(ids, h.next(desc).ID)
		if h.advance(desc) && h.seek(q, desc) {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
	}
	return ids
}

// seek drops h's entries up to its next match in page order and reports
// whether one remains.
func (h *cellHead) seek(q *Query, desc bool) bool {
	for len(h.entries) > 0 {
		e := h.next(desc)
		if q.admits(e, h.covered) {
			return true
		}
		h.advance(desc)
	}
	return false
}

// cellHead is a cell's remaining entries in a merge.
type cellHead struct {
	entries []Entry
	covered bool
}

func (h *cellHead) next(desc bool) *Entry {
	if desc {
		return &h.entries[len(h.entries)-1]
	}
	return &h.entries[0]
}

// advance drops the entry just taken and reports whether any remain.
func (h *cellHead) advance(desc bool) bool {
	if desc {
		h.entries = h.entries[:len(h.entries)-1]
	} else {
		h.entries = h.entries[1:]
	}
	return len(h.entries) > 0
}

// cellMerge is a heap of cells ordered by their next entry in page order.
type cellMerge struct {
	heads []cellHead
	desc  bool
}

func (m *cellMerge) Len() int { return len(m.heads) }
func (m *cellMerge) Less(i, j int) bool {
	a, b := m.heads[i].next(m.desc), m.heads[j].next(m.desc)
	c := a.cmp(b.At, b.ID)
	if m.desc {
		return c > 0
	}
	return c < 0
}
func (m *cellMerge) Swap(i, j int) { m.heads[i], m.heads[j] = m.heads[j], m.heads[i] }
func (m *cellMerge) Push(x any)    { m.heads = append(m.heads, x.(cellHead)) }
func (m *cellMerge) Pop() any {
	h := m.heads[len(m.heads)-1]
	m.heads = m.heads[:len(m.heads)-1]
	return h
}
