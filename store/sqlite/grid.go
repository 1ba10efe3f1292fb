package sqlite

import (
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

// The grid is an in-memory index of every live incident's place and time:
// 0.1° cells, each holding its incidents sorted by (occurred_at, id), grouped
// in 1° blocks that keep their totals. A dashboard's box then costs a few
// cell lookups and a merge of sorted lists instead of a walk over R*Tree
// nodes spread across fifteen years of time slices, and numberMatched is
// exact at any size. Rows stay in SQLite: the grid holds 32 bytes per
// incident and answers which ids make the page, in order.
//
// The history table is the grid's change feed: every write to an incident
// appends a history row in the same transaction, and history ids grow in
// commit order (SQLite has one writer at a time), so reading the rows past
// the last id applied brings the grid up to date with writes from any
// process — an import running beside the server included.
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

// gridEntry is one live incident in the grid.
type gridEntry struct {
	at       int64 // occurred_at, µs since the epoch
	id       int64
	lon, lat float64
}

func (e *gridEntry) cmp(at, id int64) int {
	if c := cmpInt(e.at, at); c != 0 {
		return c
	}
	return cmpInt(e.id, id)
}

// gridCell holds the incidents of one 0.1° cell, sorted by (at, id).
type gridCell struct {
	cx, cy  int
	entries []gridEntry
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

// incidentMeta is an incident's severity and type packed for cellOf; 0
// means not known yet (a build reads them after the places).
type incidentMeta uint8

func newIncidentMeta(severity int, t domain.IncidentType) incidentMeta {
	ti := slices.Index(domain.IncidentTypes, t) + 1
	return incidentMeta(min(max(severity, 0), 7) | ti<<3)
}

func (m incidentMeta) severity() int { return int(m & 7) }

// typeIndex is the index in domain.IncidentTypes + 1; 0 when unknown.
func (m incidentMeta) typeIndex() int { return int(m >> 3) }

// grid is safe for concurrent use: queries share a read lock, applying
// changes takes the write lock.
type grid struct {
	mu     sync.RWMutex
	blocks map[int]*gridBlock
	cellOf []int32 // by incident id: cell key + 1 and meta; 0 when not in the grid
	// farCellOf holds ids far past the dense range: SQLite assigns ids one
	// after another, but a row written with a huge id by other means must
	// not make cellOf allocate up to it.
	farCellOf map[int64]int32
	// atOf holds each incident's occurred_at beside cellOf (farAtOf for
	// the ids in farCellOf), so that an incident known only by its id — one
	// named in incident_actors — is found in its cell's sorted list and
	// tested without its row.
	atOf    []int64
	farAtOf map[int64]int64
	n       int
	applied int64 // the last history id the grid reflects
}

func newGrid() *grid { return &grid{blocks: map[int]*gridBlock{}} }

// cellXY is the cell of a coordinate; rounding at cell edges is harmless
// because boxes and points go through the same monotone function.
func cellXY(lon, lat float64) (int, int) {
	cx := int(math.Floor((lon + 180) * cellsPerDegree))
	cy := int(math.Floor((lat + 90) * cellsPerDegree))
	return min(max(cx, 0), gridCols-1), min(max(cy, 0), gridRows-1)
}

func cellKey(cx, cy int) int { return cy*gridCols + cx }

func (g *grid) block(bx, by int, create bool) *gridBlock {
	k := by*blockCols + bx
	b := g.blocks[k]
	if b == nil && create {
		b = &gridBlock{bx: bx, by: by}
		g.blocks[k] = b
	}
	return b
}

func (g *grid) cell(cx, cy int, create bool) *gridCell {
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

// add inserts a live incident; append is the fast path of a build that
// reads incidents in (occurred_at, id) order.
func (g *grid) add(e gridEntry) {
	cx, cy := cellXY(e.lon, e.lat)
	c := g.cell(cx, cy, true)
	i := len(c.entries)
	if i > 0 && c.entries[i-1].cmp(e.at, e.id) > 0 {
		i, _ = slices.BinarySearchFunc(c.entries, e, func(a, b gridEntry) int { return a.cmp(b.at, b.id) })
	}
	c.entries = slices.Insert(c.entries, i, e)
	g.block(cx/blockSide, cy/blockSide, false).n++
	g.setCellOf(e.id, int32(cellKey(cx, cy)+1))
	g.setAt(e.id, e.at)
	g.n++
}

// compact gives each cell's list its exact size, dropping the spare
// capacity appends left behind: a quarter of the grid's memory after a build.
func (g *grid) compact() {
	for _, b := range g.blocks {
		for _, c := range b.cells {
			if c != nil && cap(c.entries) > len(c.entries) {
				c.entries = slices.Clone(c.entries)
			}
		}
	}
}

// denseSlack is how far past the dense range an id may lie and still get a
// slot in cellOf.
const denseSlack = 1 << 20

func (g *grid) cellOfID(id int64) int32 {
	if id >= 0 && id < int64(len(g.cellOf)) {
		if v := g.cellOf[id]; v != 0 || len(g.farCellOf) == 0 {
			return v
		}
	}
	return g.farCellOf[id] // an id placed here before cellOf grew past it
}

func (g *grid) setCellOf(id int64, v int32) {
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
func (g *grid) setAt(id, at int64) {
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
func (g *grid) entry(id int64) *gridEntry {
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
	i, found := slices.BinarySearchFunc(c.entries, at, func(e gridEntry, at int64) int { return e.cmp(at, id) })
	if !found {
		return nil
	}
	return &c.entries[i]
}

// eachID calls fn (with a nil cell) for every incident of ids, each given
// at most once, that is live and matches the query.
func (g *grid) eachID(q *gridQuery, ids []int64, fn func(c *gridCell, e *gridEntry)) {
	for _, id := range ids {
		e := g.entry(id)
		if e != nil && e.at >= q.start && e.at <= q.end && q.matches(e) && (!q.sifted() || q.metaMatches(g.meta(id))) {
			fn(nil, e)
		}
	}
}

// setMeta records the severity and type of an incident in the grid.
func (g *grid) setMeta(id int64, m incidentMeta) {
	if v := g.cellOfID(id); v != 0 {
		g.setCellOf(id, v&cellKeyMask|int32(m)<<cellKeyBits)
	}
}

// meta is the severity and type of an incident in the grid.
func (g *grid) meta(id int64) incidentMeta {
	return incidentMeta(g.cellOfID(id) >> cellKeyBits)
}

// remove takes an incident out of the grid if it is there.
func (g *grid) remove(id int64) {
	at := g.cellOfID(id) & cellKeyMask
	if at == 0 {
		return
	}
	k := int(at - 1)
	g.setCellOf(id, 0)
	cx, cy := k%gridCols, k/gridCols
	c := g.cell(cx, cy, false)
	if i := slices.IndexFunc(c.entries, func(e gridEntry) bool { return e.id == id }); i >= 0 {
		c.entries = slices.Delete(c.entries, i, i+1)
		g.block(cx/blockSide, cy/blockSide, false).n--
		g.n--
	}
}

// gridQuery is a filter's place and time, and its types and lowest
// severity, ready for the grid.
type gridQuery struct {
	bounds     []orb.Bound
	near       *domain.Near
	start, end int64 // inclusive, µs
	// types has bit i set for the type of index i in domain.IncidentTypes
	// + 1; 0 means any type. sevMin is the lowest severity; 0 means any.
	types  uint32
	sevMin int
}

// worldBound is the whole grid, for a query with no place.
var worldBound = orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}

func newGridQuery(f domain.IncidentFilter) gridQuery {
	q := gridQuery{bounds: f.BBox, near: f.Near, start: math.MinInt64, end: math.MaxInt64}
	switch {
	case q.bounds != nil:
	case f.Near != nil:
		q.bounds = geoRadiusBounds(f.Near)
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
			q.start = micros(*t.Start)
		}
		if t.End != nil {
			q.end = micros(*t.End)
		}
	}
	return q
}

func (q *gridQuery) timed() bool { return q.start != math.MinInt64 || q.end != math.MaxInt64 }

// sifted reports whether the query tests each incident's meta, so that
// covering a block or cell no longer settles that all of it matches.
func (q *gridQuery) sifted() bool { return q.types != 0 || q.sevMin != 0 }

// metaMatches tests an incident's type and severity.
func (q *gridQuery) metaMatches(m incidentMeta) bool {
	return (q.types == 0 || q.types&(1<<m.typeIndex()) != 0) && m.severity() >= q.sevMin
}

// matches tests an entry's place; its time is settled by the cell's range.
func (q *gridQuery) matches(e *gridEntry) bool {
	p := orb.Point{e.lon, e.lat}
	return geo.InBounds(p, q.bounds) && (q.near == nil || geo.Distance(q.near.Center, p) <= q.near.RadiusM)
}

// covers reports whether every point of the rectangle matches the query.
func (q *gridQuery) covers(minLon, minLat, maxLon, maxLat float64) bool {
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
	entries []gridEntry
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
func timeSpan(entries []gridEntry, start, end int64) []gridEntry {
	lo, hi := 0, len(entries)
	if start != math.MinInt64 {
		lo, _ = slices.BinarySearchFunc(entries, start, func(e gridEntry, t int64) int { return cmpInt(e.at, t) })
	}
	if end != math.MaxInt64 {
		hi, _ = slices.BinarySearchFunc(entries, end+1, func(e gridEntry, t int64) int { return cmpInt(e.at, t) })
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
func (q *gridQuery) cellCount() int {
	n := 0
	for _, b := range q.bounds {
		_, _, _, _, k := cellRange(b)
		n += k
	}
	return n
}

// blocks calls fn for each block that may hold matches, with whether the
// query covers it whole. Blocks are visited once even when bounds share them.
func (g *grid) blocksOf(q *gridQuery, fn func(b *gridBlock, covered bool)) {
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
func (q *gridQuery) spans(b *gridBlock, blockCovered bool, out []cellSpan) []cellSpan {
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
func (q *gridQuery) overlaps(minLon, minLat, maxLon, maxLat float64) bool {
	for _, b := range q.bounds {
		if maxLon >= b.Min[0]-cellEdgeMargin && minLon <= b.Max[0]+cellEdgeMargin &&
			maxLat >= b.Min[1]-cellEdgeMargin && minLat <= b.Max[1]+cellEdgeMargin {
			return true
		}
	}
	return false
}

// count is the exact number of live incidents the query matches. A block
// the query covers adds its total when no time range, type or severity
// narrows it.
func (g *grid) count(q *gridQuery) int {
	n := 0
	g.each(q, func(b *gridBlock, covered bool) bool {
		if covered && !q.timed() && !q.sifted() {
			n += b.n
			return false
		}
		return true
	}, func(*gridCell, *gridEntry) { n++ })
	return n
}

// each calls fn for every match of the query, with the cell holding it.
// Before a block's cells are read, block may take the whole block
// (covered: the query covers it) and return false to skip them.
func (g *grid) each(q *gridQuery, block func(b *gridBlock, covered bool) bool, fn func(c *gridCell, e *gridEntry)) {
	var spans []cellSpan
	g.blocksOf(q, func(b *gridBlock, covered bool) {
		if block != nil && !block(b, covered) {
			return
		}
		spans = q.spans(b, covered, spans[:0])
		for _, s := range spans {
			for i := range s.entries {
				e := &s.entries[i]
				if (s.covered || q.matches(e)) && (!q.sifted() || q.metaMatches(g.meta(e.id))) {
					fn(s.cell, e)
				}
			}
		}
	})
}

// clusters groups the matches each yields by the web-mercator tile of zoom
// z holding them, as domain.IncidentService.ClusterIncidents does. Where
// each names the cell of a run of entries and the whole cell lies in one
// tile (the tile of both its corners: the projection is monotone), they are
// summed without projecting each, which is every cell up to zoom 9 or so.
func (g *grid) clusters(z int, each func(fn func(c *gridCell, e *gridEntry))) []domain.IncidentCluster {
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
	each(func(c *gridCell, e *gridEntry) {
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
			k := tileOf(e.lon, e.lat)
			if t = byTile[k]; t == nil {
				t = &sums{}
				byTile[k] = t
			}
		}
		t.n++
		t.lon += e.lon
		t.lat += e.lat
		t.maxSev = max(t.maxSev, g.meta(e.id).severity())
	})
	out := make([]domain.IncidentCluster, 0, len(byTile))
	for k, t := range byTile {
		out = append(out, domain.IncidentCluster{X: k[0], Y: k[1], Count: t.n, MaxSeverity: t.maxSev,
			Center: orb.Point{store.ClampMean(t.lon, t.n, 180), store.ClampMean(t.lat, t.n, 90)}})
	}
	return out
}

// page returns the ids of up to n matches in page order after the cursor.
func (g *grid) page(q *gridQuery, desc bool, cursor *domain.Cursor, n int) []int64 {
	var spans []cellSpan
	g.blocksOf(q, func(b *gridBlock, covered bool) {
		spans = q.spans(b, covered, spans)
	})
	m := &cellMerge{desc: desc}
	for _, s := range spans {
		es := s.entries
		if cursor != nil {
			// Keep only entries past the cursor in page order.
			i, found := slices.BinarySearchFunc(es, cursor, func(e gridEntry, c *domain.Cursor) int { return e.cmp(c.Key, c.ID) })
			if desc {
				es = es[:i]
			} else {
				if found {
					i++
				}
				es = es[i:]
			}
		}
		if len(es) > 0 {
			m.heads = append(m.heads, cellHead{entries: es, covered: s.covered})
		}
	}
	heap.Init(m)
	ids := make([]int64, 0, min(n, 1024))
	for len(ids) < n && m.Len() > 0 {
		h := &m.heads[0]
		e := h.next(desc)
		if (h.covered || q.matches(e)) && (!q.sifted() || q.metaMatches(g.meta(e.id))) {
			ids = append(ids, e.id)
		}
		if h.advance(desc) {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
	}
	return ids
}

// cellHead is a cell's remaining entries in a merge.
type cellHead struct {
	entries []gridEntry
	covered bool
}

func (h *cellHead) next(desc bool) *gridEntry {
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
	c := a.cmp(b.at, b.id)
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
