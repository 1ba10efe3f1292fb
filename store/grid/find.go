package grid

import (
	"context"
	"errors"
	"math"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// Rows is what an engine gives Find: the ids of the first n matches of f
// past its cursor, in its order, from the engine's time index (for a wide
// box; q is the grid's reading of f), and the live incidents among ids in
// any order. WideIDs returns ErrNoWideIDs when the time index cannot be
// walked at the moment; Find then pages from the grid's cells.
type Rows struct {
	WideIDs func(ctx context.Context, f domain.IncidentFilter, q *Query, n int) ([]int64, error)
	Read    func(ctx context.Context, ids []int64) ([]*domain.Incident, error)
}

// Find answers a query of the grid's conditions (see Pages) in order o
// from g, current as the caller got it from its Follower's Current: the
// exact count, and the page's ids in order from the grid's merge of its
// cells (or, for a box wider than mergeCells holding a good share of
// everything, from rows.WideIDs, which finds the newest faster), their
// incidents from cache or rows.Read.
func Find(ctx context.Context, g *Grid, cache *Cache, f domain.IncidentFilter, o store.Order, mergeCells int, rows Rows) (*domain.IncidentPage, error) {
	page, err := find(ctx, g, cache, f, o, mergeCells, rows, true)
	if errors.Is(err, ErrNoWideIDs) {
		return find(ctx, g, cache, f, o, mergeCells, rows, false)
	}
	return page, err
}

// ErrNoWideIDs is Rows.WideIDs' answer while the engine's time index is
// away (SQLite drops it during a large import and builds it again at the
// end).
var ErrNoWideIDs = errors.New("grid: the time index is being rebuilt")

// find is Find, walking the time index for a wide box only if allowWide.
func find(ctx context.Context, g *Grid, cache *Cache, f domain.IncidentFilter, o store.Order, mergeCells int, rows Rows, allowWide bool) (*domain.IncidentPage, error) {
	q := NewQuery(f)
	need := f.Page.Offset + f.Page.Limit + 1
	if need < 0 { // an offset near MaxInt
		need = math.MaxInt
	}
	g.RLock()
	version := g.Version()
	matched := g.Count(&q)
	// Walking the time index reads about Len/matched entries per match, so
	// it wins only when the box holds a good share of all incidents.
	// Actors' pages come from their lists, which hold nothing else.
	wide := allowWide && len(f.ActorIDs) == 0 && q.CellCount() > mergeCells && matched*WideShare >= g.Len()
	// An offset past every match is an empty page, whatever the path.
	skip := f.Page.Offset >= matched
	var ids []int64
	if !wide && !skip {
		ids = g.Page(&q, o.Terms[0].Desc, f.Page.Cursor, need)
	}
	g.RUnlock()
	if wide && !skip {
		var err error
		if ids, err = rows.WideIDs(ctx, f, &q, need); err != nil {
			return nil, err
		}
	}
	if f.Page.Offset >= len(ids) {
		ids = nil
	} else {
		ids = ids[f.Page.Offset:]
	}
	// More follow when the ids went past the limit, even if a row among
	// them was deleted before it could be read.
	more := len(ids) > f.Page.Limit
	incs, err := cache.Incidents(ctx, g, version, ids, rows.Read)
	if err != nil {
		return nil, err
	}
	page := store.PageOfIncidents(f, o, incs, more)
	page.Matched = matched
	return page, nil
}
