package sqlite

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/grid"
)

// DefaultTreeSortMax is the largest match count for which a page is sorted
// out of the R*Tree; larger results walk the occurred_at index instead,
// where the first rows in order that pass the box come quickly.
const DefaultTreeSortMax = 2_000

// order is the sort of a result (store.Order) with its first key column
// and direction, which the grid and R*Tree paths handle.
type order struct {
	store.Order
	key  string // the first term's column
	desc bool
}

func orderOf(k domain.SortKey) order {
	o := store.OrderOf(k)
	return order{Order: o, key: o.Terms[0].Field, desc: o.Terms[0].Desc}
}

// addAfter adds the keyset condition for rows past a cursor; cursors hold
// times as microseconds, as the columns do.
func (o order) addAfter(w *where, prefix string, c *domain.Cursor) {
	cond, args := o.After(prefix, c, func(_ string, v any) any { return v })
	w.add(cond, args...)
}

// FindIncidents returns one page of live incidents matching f, ordered by
// f.SortBy then id, with the exact number of matches (see countMatches).
func (s *Store) FindIncidents(ctx context.Context, f domain.IncidentFilter) (*domain.IncidentPage, error) {
	if f.SortBy == "" {
		f.SortBy = domain.SortOccurredAtDesc
	}
	o := orderOf(f.SortBy)
	if c := f.Page.Cursor; c != nil {
		if err := o.CheckCursor(c, f.SortBy); err != nil {
			return nil, err
		}
	}
	if f.Page.Limit <= 0 {
		f.Page.Limit = domain.DefaultLimit
	}
	if o.Simple && o.key == "occurred_at" && f.BBox == nil && f.Near == nil && grid.Counts(f) {
		// Listings with no place would walk the occurred_at index; while
		// an import has it dropped, the grid pages them over the whole
		// world instead of SQL sorting the table (at 1M: 0.07 s against
		// 0.2 s, and at offset 900,000 0.7 s against 12 s).
		current, err := s.incidentTreeCurrent(ctx)
		if err != nil {
			return nil, err
		}
		if !current {
			f.BBox = []orb.Bound{{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}}
		}
	}
	if o.Simple && o.key == "occurred_at" && (treeOnly(f) || grid.Pages(f)) {
		g, err := s.currentGrid(ctx)
		if err != nil {
			return nil, err
		}
		if g != nil {
			return s.findInGrid(ctx, g, f, o)
		}
		if treeOnly(f) {
			current, err := s.incidentTreeCurrent(ctx)
			if err != nil {
				return nil, err
			}
			if current {
				return s.findInTree(ctx, f, o)
			}
		}
	}
	w, err := s.incidentWhere(ctx, f)
	if err != nil {
		return nil, err
	}
	matched, err := s.countMatches(ctx, f, w)
	if err != nil {
		return nil, err
	}
	if c := f.Page.Cursor; c != nil {
		o.addAfter(w, "i.", c)
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents i WHERE ` + w.sql() + ` ORDER BY ` + o.SQL("i.") + ` LIMIT ? OFFSET ?`
	return s.incidentPage(ctx, f, o, matched, q, append(w.args, f.Page.Limit+1, f.Page.Offset))
}

// unfiltered reports whether f selects every live incident.
func unfiltered(f domain.IncidentFilter) bool {
	return f.BBox == nil && f.Near == nil && f.Time == nil && treeOnlyRest(f)
}

// liveIncidents is the number of live incidents, kept by triggers.
func (s *Store) liveIncidents(ctx context.Context) (int, error) {
	var n int
	err := store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT n FROM live_counts WHERE collection = 'incidents'`).Rows()).Scan(&n)
	return n, err
}

// treeOnly reports whether every condition of f is spatial or temporal, so
// the R*Tree with its auxiliary columns answers it without the table.
func treeOnly(f domain.IncidentFilter) bool {
	return (f.BBox != nil || f.Near != nil) && treeOnlyRest(f)
}

// treeOnlyRest reports whether f has no condition beyond place and time.
func treeOnlyRest(f domain.IncidentFilter) bool {
	return len(f.Types) == 0 && len(f.ActorIDs) == 0 && len(f.ActorRoles) == 0 && len(f.FacilityIDs) == 0 && f.SeverityMin == nil &&
		len(f.Statuses) == 0 && len(f.Countries) == 0 && f.Text == "" && f.Where == nil
}

// gridFor returns the grid, current, when it can count f (see grid.Counts
// and grid.ByActor) — nil when it cannot or is not ready.
func (s *Store) gridFor(ctx context.Context, f domain.IncidentFilter) (*grid.Grid, error) {
	if !grid.ByActor(f) && !grid.Counts(f) {
		return nil, nil
	}
	return s.currentGrid(ctx)
}

// countMatches is the exact number of incidents matching f, whose
// conditions w holds: the live count when f selects everything; the grid's
// count when it can answer f (see gridFor): a pass over the entries of the
// cells f's place overlaps, testing each one's time, type and severity (a
// block's total when nothing narrows it), or over f's actors' lists within
// its time range (its length alone for one actor and no other condition);
// and otherwise a count(*)
// of w, which SQLite answers from the indexes w's conditions use.
func (s *Store) countMatches(ctx context.Context, f domain.IncidentFilter, w *where) (int, error) {
	if unfiltered(f) {
		return s.liveIncidents(ctx)
	}
	g, err := s.gridFor(ctx, f)
	if err != nil {
		return 0, err
	}
	if g != nil {
		q := grid.NewQuery(f)
		g.RLock()
		defer g.RUnlock()
		return g.Count(&q), nil
	}
	var n int
	err = store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT count(*) FROM incidents i WHERE `+w.sql(), w.args...).Rows()).Scan(&n)
	return n, err
}

// walkConditions are a walk of the occurred_at index's conditions: live,
// in the bounds, in the time window and radius, of the types and lowest
// severity, past the cursor. Type and severity need the row, which the
// walk reads only for entries already in the box.
func walkConditions(f domain.IncidentFilter, o order, bounds []orb.Bound) *where {
	w := &where{}
	w.add("i.deleted_at IS NULL")
	boxCondition(w, bounds)
	scan := treeConditions(f, "i.")
	w.clauses = append(w.clauses, scan.clauses...)
	w.args = append(w.args, scan.args...)
	inList(w, "i.type", f.Types)
	if f.SeverityMin != nil {
		w.add("i.severity >= ?", *f.SeverityMin)
	}
	if c := f.Page.Cursor; c != nil {
		o.addAfter(w, "i.", c)
	}
	return w
}

// walkTimeIndexIDs returns the ids of the first n matches of a spatial (and
// temporal) query in page order, from the occurred_at index alone: it covers
// the coordinates, so no row is read.
func (s *Store) walkTimeIndexIDs(ctx context.Context, f domain.IncidentFilter, o order, bounds []orb.Bound, n int) ([]int64, error) {
	w := walkConditions(f, o, bounds)
	rows, err := s.read.WithContext(ctx).Raw(`SELECT i.id FROM incidents i INDEXED BY `+timeIndex+` WHERE `+w.sql()+
		` ORDER BY `+o.SQL("i.")+` LIMIT ?`, append(w.args, n)...).Rows()
	if err != nil {
		return nil, wideIDsError(err)
	}
	defer rows.Close()
	ids := make([]int64, 0, min(n, 1024))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, wideIDsError(rows.Err())
}

// wideIDsError is grid.ErrNoWideIDs for SQLite's refusal of a statement
// naming timeIndex, which an import has dropped (treeStaleTable): the grid
// pages from its cells instead of sorting the table. The refusal comes when
// the statement is first stepped, at the query or at the first row.
func wideIDsError(err error) error {
	if isNoTimeIndex(err) {
		return grid.ErrNoWideIDs
	}
	return err
}

// walkTimeIndex answers a spatial (and temporal) query with many matches
// by walking the occurred_at index in page order: the index covers the
// coordinates, so each entry's box test runs before its row is read, and
// the first limit+1 rows that pass end the walk.
func (s *Store) walkTimeIndex(ctx context.Context, f domain.IncidentFilter, o order, bounds []orb.Bound, matched int) (*domain.IncidentPage, error) {
	w := walkConditions(f, o, bounds)
	query := func(from string) string {
		return `SELECT ` + incidentColumns + ` FROM ` + from + ` WHERE ` + w.sql() + ` ORDER BY ` + o.SQL("i.") + ` LIMIT ? OFFSET ?`
	}
	args := append(w.args, f.Page.Limit+1, f.Page.Offset)
	page, err := s.incidentPage(ctx, f, o, matched, query(`incidents i INDEXED BY `+timeIndex), args)
	if isNoTimeIndex(err) {
		// An import dropped it after the caller found the tree current:
		// the same query, planned without it.
		return s.incidentPage(ctx, f, o, matched, query(`incidents i`), args)
	}
	return page, err
}

// isNoTimeIndex reports whether err is SQLite's refusal of a statement
// naming timeIndex while an import has it dropped (treeStaleTable).
func isNoTimeIndex(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such index: "+timeIndex)
}

// treeConditions are the time window and exact radius of f on the columns
// of incidents (prefix "i.").
func treeConditions(f domain.IncidentFilter, prefix string) *where {
	w := &where{}
	if t := f.Time; t != nil {
		if t.Start != nil {
			w.add(prefix+"occurred_at >= ?", micros(*t.Start))
		}
		if t.End != nil {
			w.add(prefix+"occurred_at <= ?", micros(*t.End))
		}
	}
	if n := f.Near; n != nil {
		w.add("pw_distance("+prefix+"lon, "+prefix+"lat, ?, ?) <= ?", n.Center[0], n.Center[1], n.RadiusM)
	}
	return w
}

// incidentPage runs a page query that selects incidentColumns and one row
// more than the limit, which tells whether a next page exists.
func (s *Store) incidentPage(ctx context.Context, f domain.IncidentFilter, o order, matched int, q string, args []any) (*domain.IncidentPage, error) {
	rows, err := s.read.WithContext(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page, err := scanIncidents(rows, f.Page.Limit+1)
	if err != nil {
		return nil, err
	}
	p := store.PageOfIncidents(f, o.Order, page, false)
	p.Matched = matched
	return p, nil
}

// pageOf turns the rows from the page's start in order — up to one more
// than the limit, which tells whether a next page exists — into a page.
func pageOf(f domain.IncidentFilter, o order, rows []*incidentRow) (*domain.IncidentPage, error) {
	incs := make([]*domain.Incident, 0, min(len(rows), f.Page.Limit))
	for _, r := range rows[:min(len(rows), f.Page.Limit)] {
		inc, err := r.incident()
		if err != nil {
			return nil, err
		}
		incs = append(incs, &inc)
	}
	return store.PageOfIncidents(f, o.Order, incs, len(rows) > f.Page.Limit), nil
}

// incidentWhere turns a filter into SQL conditions on incidents i.
func (s *Store) incidentWhere(ctx context.Context, f domain.IncidentFilter) (*where, error) {
	w := &where{}
	w.add("i.deleted_at IS NULL")
	tree, err := s.incidentTree(ctx)
	if err != nil {
		return nil, err
	}
	spatialFilter(w, tree, f.BBox, f.Near)
	if t := f.Time; t != nil {
		if t.Start != nil {
			w.add("i.occurred_at >= ?", micros(*t.Start))
		}
		if t.End != nil {
			w.add("i.occurred_at <= ?", micros(*t.End))
		}
	}
	inList(w, "i.type", f.Types)
	inList(w, "i.status", f.Statuses)
	inList(w, "i.country", f.Countries)
	inList(w, "i.facility_id", f.FacilityIDs)
	if f.SeverityMin != nil {
		w.add("i.severity >= ?", *f.SeverityMin)
	}
	// Text of only spaces has no words; an empty MATCH is an FTS5 error.
	if q := ftsQuery(f.Text); q != "" {
		w.add("i.id IN (SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH ?)", q)
	}
	if len(f.ActorIDs) > 0 {
		if err := s.actorFilter(ctx, w, f.ActorIDs, f.ActorRoles, f.Attribution); err != nil {
			return nil, err
		}
	}
	if f.Where != nil {
		if err := compileExpr(w, f.Where, domain.IncidentQueryables, tree); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// actorFilter narrows to incidents naming one of ids (in one of roles, when
// given) or, with chain attribution, naming in an attribution role an actor
// that ids control, direct, facilitate, sponsor or lead at the incident's
// time. The chain's actors and time windows travel as one JSON parameter
// that the query joins, so the statement's size and expression depth stay
// the same however large the relation graph grows (1,000 windows on one
// actor once reached SQLite's depth limit as an OR of conditions).
func (s *Store) actorFilter(ctx context.Context, w *where, ids []string, roles []domain.ActorRole, mode domain.Attribution) error {
	if mode != domain.AttributionChain {
		c := "i.id IN (SELECT incident_id FROM incident_actors WHERE actor_id IN (SELECT value FROM json_each(?))"
		args := []any{jsonList(ids)}
		if len(roles) > 0 {
			c += " AND role IN (SELECT value FROM json_each(?))"
			args = append(args, jsonList(roles))
		}
		w.add(c+")", args...)
		return nil
	}
	rels, err := s.allRelations(ctx)
	if err != nil {
		return err
	}
	windows := domain.AttributionWindows(ids, rels)
	type span struct {
		Actor string `json:"a"`
		From  *int64 `json:"f,omitempty"`
		To    *int64 `json:"t,omitempty"`
	}
	spans := []span{}
	for actor, ws := range windows {
		for _, win := range ws {
			sp := span{Actor: actor}
			if win.From != nil {
				f := micros(*win.From)
				sp.From = &f
			}
			if win.To != nil {
				t := micros(*win.To)
				sp.To = &t
			}
			spans = append(spans, sp)
		}
	}
	data, err := json.Marshal(spans)
	if err != nil {
		return err
	}
	// The window's open ends compare against the extremes of int64, which
	// every stored occurred_at (microseconds) lies between.
	w.add(`i.id IN (SELECT ia.incident_id FROM json_each(?) s
		JOIN incident_actors ia ON ia.actor_id = s.value->>'a'
		JOIN incidents j ON j.id = ia.incident_id
		WHERE ia.role IN (SELECT value FROM json_each(?))
		AND j.occurred_at >= coalesce(s.value->>'f', -9223372036854775808)
		AND j.occurred_at < coalesce(s.value->>'t', 9223372036854775807))`,
		string(data), jsonList(domain.ChainRoles(roles)))
	return nil
}

// jsonList is a list as a JSON array, for json_each.
func jsonList[T any](vs []T) string {
	b, _ := json.Marshal(vs) // strings only: cannot fail
	return string(b)
}
