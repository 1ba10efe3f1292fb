package sqlite

import (
	"context"
	"fmt"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// DefaultCountCap bounds how many matches FindIncidents counts. Counting
// every match of a region-wide query would cost more than the page itself
// (about 0.2 µs per match); past the cap numberMatched is left out, as OGC
// API – Features allows.
const DefaultCountCap = 2_000

// DefaultTreeSortMax is the largest match count for which a page is sorted
// out of the R*Tree; larger results walk the occurred_at index instead,
// where the first rows in order that pass the box come quickly. It equals
// the count cap: past it the count is unknown.
const DefaultTreeSortMax = DefaultCountCap

// order is the sort of a result: its key column and direction.
type order struct {
	key  string // occurred_at or severity
	desc bool
}

func orderOf(k domain.SortKey) order {
	switch k {
	case domain.SortOccurredAt:
		return order{"occurred_at", false}
	case domain.SortSeverity:
		return order{"severity", false}
	case domain.SortSeverityDesc:
		return order{"severity", true}
	}
	return order{"occurred_at", true}
}

func (o order) sql(prefix string) string {
	dir := "ASC"
	if o.desc {
		dir = "DESC"
	}
	return fmt.Sprintf("%s%s %s, %sid %s", prefix, o.key, dir, prefix, dir)
}

// addAfter adds the keyset condition for rows past a cursor.
func (o order) addAfter(w *where, prefix string, c *domain.Cursor) {
	cmp := ">"
	if o.desc {
		cmp = "<"
	}
	w.add(fmt.Sprintf("(%s%s, %sid) %s (?, ?)", prefix, o.key, prefix, cmp), c.Key, c.ID)
}

// FindIncidents returns one page of live incidents matching f, ordered by
// f.SortBy then id, with the number of matches up to Options.CountCap (-1
// beyond).
func (s *Store) FindIncidents(ctx context.Context, f domain.IncidentFilter) (*domain.IncidentPage, error) {
	if c := f.Page.Cursor; c != nil && c.Sort != f.SortBy {
		return nil, domain.InvalidField("cursor", "was made for sortby=%s, not %s", c.Sort, f.SortBy)
	}
	if f.Page.Limit <= 0 {
		f.Page.Limit = domain.DefaultLimit
	}
	o := orderOf(f.SortBy)
	if treeOnly(f) && o.key == "occurred_at" {
		g, err := s.currentGrid(ctx)
		if err != nil {
			return nil, err
		}
		if g != nil {
			return s.findInGrid(ctx, g, f, o)
		}
		return s.findInTree(ctx, f, o)
	}
	w, err := s.incidentWhere(ctx, f)
	if err != nil {
		return nil, err
	}
	var matched int
	if unfiltered(f) {
		matched, err = s.liveIncidents(ctx)
	} else {
		matched, err = s.countCapped(ctx, `SELECT 1 FROM incidents i WHERE `+w.sql(), w.args)
	}
	if err != nil {
		return nil, err
	}
	if c := f.Page.Cursor; c != nil {
		o.addAfter(w, "i.", c)
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents i WHERE ` + w.sql() + ` ORDER BY ` + o.sql("i.") + ` LIMIT ? OFFSET ?`
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
	return len(f.Types) == 0 && len(f.ActorIDs) == 0 && len(f.FacilityIDs) == 0 && f.SeverityMin == nil &&
		len(f.Statuses) == 0 && len(f.Countries) == 0 && f.Text == "" && f.Where == nil
}

// wideMatched is numberMatched of a spatial query past the count cap: -1,
// unless the box holds every incident, when the live count is exact.
func (s *Store) wideMatched(ctx context.Context, f domain.IncidentFilter, bounds []orb.Bound) (int, error) {
	if f.Near != nil || f.Time != nil || len(bounds) != 1 {
		return -1, nil
	}
	ext, err := s.treeExtent(ctx, "incidents_rtree_node", 3)
	if err != nil || ext == nil {
		return -1, err
	}
	if bounds[0].Min[0] <= ext[0] && bounds[0].Min[1] <= ext[1] && bounds[0].Max[0] >= ext[2] && bounds[0].Max[1] >= ext[3] {
		return s.liveIncidents(ctx)
	}
	return -1, nil
}

// walkConditions are a walk of the occurred_at index's conditions: live,
// in the bounds, in the time window and radius, past the cursor.
func walkConditions(f domain.IncidentFilter, o order, bounds []orb.Bound) *where {
	w := &where{}
	w.add("i.deleted_at IS NULL")
	boxCondition(w, bounds)
	scan := treeConditions(f, "i.")
	w.clauses = append(w.clauses, scan.clauses...)
	w.args = append(w.args, scan.args...)
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
	rows, err := s.read.WithContext(ctx).Raw(`SELECT i.id FROM incidents i INDEXED BY incidents_occurred_at WHERE `+w.sql()+
		` ORDER BY `+o.sql("i.")+` LIMIT ?`, append(w.args, n)...).Rows()
	if err != nil {
		return nil, err
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
	return ids, rows.Err()
}

// walkTimeIndex answers a spatial (and temporal) query with many matches
// by walking the occurred_at index in page order: the index covers the
// coordinates, so each entry's box test runs before its row is read, and
// the first limit+1 rows that pass end the walk.
func (s *Store) walkTimeIndex(ctx context.Context, f domain.IncidentFilter, o order, bounds []orb.Bound, matched int) (*domain.IncidentPage, error) {
	w := walkConditions(f, o, bounds)
	q := `SELECT ` + incidentColumns + ` FROM incidents i INDEXED BY incidents_occurred_at WHERE ` + w.sql() +
		` ORDER BY ` + o.sql("i.") + ` LIMIT ? OFFSET ?`
	return s.incidentPage(ctx, f, o, matched, q, append(w.args, f.Page.Limit+1, f.Page.Offset))
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

// countCapped counts the rows of a query up to countCap; -1 means more.
func (s *Store) countCapped(ctx context.Context, query string, args []any) (int, error) {
	var n int
	err := store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT count(*) FROM (`+query+` LIMIT ?)`, append(args, s.opts.CountCap+1)...).Rows()).Scan(&n)
	if n > s.opts.CountCap {
		n = -1
	}
	return n, err
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
	p := store.PageOfIncidents(f, page, false)
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
	return store.PageOfIncidents(f, incs, len(rows) > f.Page.Limit), nil
}

// incidentWhere turns a filter into SQL conditions on incidents i.
func (s *Store) incidentWhere(ctx context.Context, f domain.IncidentFilter) (*where, error) {
	w := &where{}
	w.add("i.deleted_at IS NULL")
	spatialFilter(w, "incidents_rtree", f.BBox, f.Near)
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
		if err := s.actorFilter(ctx, w, f.ActorIDs, f.Attribution); err != nil {
			return nil, err
		}
	}
	if f.Where != nil {
		if err := compileExpr(w, f.Where, domain.IncidentQueryables); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// actorFilter narrows to incidents naming one of ids or, with chain
// attribution, naming (as perpetrator, suspect or claimant) an actor that
// ids control, direct, facilitate, sponsor or lead at the incident's time.
func (s *Store) actorFilter(ctx context.Context, w *where, ids []string, mode domain.Attribution) error {
	direct := "SELECT incident_id FROM incident_actors WHERE actor_id IN (" + placeholders(len(ids)) + ")"
	directArgs := make([]any, len(ids))
	for i, id := range ids {
		directArgs[i] = id
	}
	if mode != domain.AttributionChain {
		w.add("i.id IN ("+direct+")", directArgs...)
		return nil
	}
	rels, err := s.allRelations(ctx)
	if err != nil {
		return err
	}
	windows := domain.AttributionWindows(ids, rels)
	isRoot := map[string]bool{}
	for _, id := range ids {
		isRoot[id] = true
	}
	clauses := []string{"i.id IN (" + direct + ")"}
	args := directArgs
	roles := make([]any, len(domain.AttributionRoles))
	for i, r := range domain.AttributionRoles {
		roles[i] = string(r)
	}
	for actor, ws := range windows {
		if isRoot[actor] {
			continue
		}
		for _, win := range ws {
			c := "i.id IN (SELECT incident_id FROM incident_actors WHERE actor_id = ? AND role IN (" + placeholders(len(roles)) + "))"
			args = append(args, actor)
			args = append(args, roles...)
			if win.From != nil {
				c += " AND i.occurred_at >= ?"
				args = append(args, micros(*win.From))
			}
			if win.To != nil {
				c += " AND i.occurred_at < ?"
				args = append(args, micros(*win.To))
			}
			clauses = append(clauses, "("+c+")")
		}
	}
	w.add("("+joinOr(clauses)+")", args...)
	return nil
}
