package store

import (
	"context"
	"fmt"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// FindIncidents returns one page of live incidents matching f, ordered by
// f.SortBy then id, with the total number of matches.
func (s *Store) FindIncidents(ctx context.Context, f domain.IncidentFilter) (*domain.IncidentPage, error) {
	w, err := s.incidentWhere(ctx, f)
	if err != nil {
		return nil, err
	}
	db := s.read.WithContext(ctx)
	var matched int
	if err := db.Raw(`SELECT count(*) FROM incidents i WHERE `+w.sql(), w.args...).Row().Scan(&matched); err != nil {
		return nil, err
	}
	keyCol, desc := "i.occurred_at", true
	switch f.SortBy {
	case domain.SortOccurredAt:
		desc = false
	case domain.SortSeverity:
		keyCol, desc = "i.severity", false
	case domain.SortSeverityDesc:
		keyCol = "i.severity"
	}
	dir, cmp := "ASC", ">"
	if desc {
		dir, cmp = "DESC", "<"
	}
	if c := f.Page.Cursor; c != nil {
		if c.Sort != f.SortBy {
			return nil, domain.InvalidField("cursor", "was made for sortby=%s, not %s", c.Sort, f.SortBy)
		}
		w.add(fmt.Sprintf("(%s, i.id) %s (?, ?)", keyCol, cmp), c.Key, c.ID)
	}
	limit := f.Page.Limit
	if limit <= 0 {
		limit = domain.DefaultLimit
	}
	q := fmt.Sprintf(`SELECT %s FROM incidents i WHERE %s ORDER BY %s %s, i.id %s LIMIT ? OFFSET ?`,
		incidentColumns, w.sql(), keyCol, dir, dir)
	rows, err := db.Raw(q, append(w.args, limit+1, f.Page.Offset)...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := &domain.IncidentPage{Matched: matched, Items: make([]domain.IncidentHit, 0, min(limit, 256))}
	var r incidentRow
	for rows.Next() {
		if len(page.Items) == limit {
			last := page.Items[limit-1]
			key := last.OccurredAt.UnixMicro()
			if keyCol == "i.severity" {
				key = int64(last.Severity)
			}
			page.Next = &domain.Cursor{Sort: f.SortBy, Key: key, ID: last.ID}
			break
		}
		if err := scanIncident(rows, &r); err != nil {
			return nil, err
		}
		inc, err := r.incident()
		if err != nil {
			return nil, err
		}
		hit := domain.IncidentHit{Incident: inc}
		if f.Near != nil {
			d := geo.Distance(f.Near.Center, inc.Location)
			hit.DistanceM = &d
		}
		page.Items = append(page.Items, hit)
	}
	return page, rows.Err()
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
