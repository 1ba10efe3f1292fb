package postgis

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
)

// FindIncidents returns one page of live incidents matching f, ordered by
// f.SortBy then id, with the exact number of matches. The GiST index on
// geom answers place, the occurred_at and severity indexes order and time,
// the GIN index q=; PostgreSQL's planner picks among them per query.
func (s *Store) FindIncidents(ctx context.Context, f domain.IncidentFilter) (*domain.IncidentPage, error) {
	if f.SortBy == "" {
		f.SortBy = domain.SortOccurredAtDesc
	}
	o := store.OrderOf(f.SortBy)
	if c := f.Page.Cursor; c != nil {
		if err := o.CheckCursor(c, f.SortBy); err != nil {
			return nil, err
		}
	}
	if f.Page.Limit <= 0 {
		f.Page.Limit = domain.DefaultLimit
	}
	if page, ok, err := s.findInGrid(ctx, f, o); ok || err != nil {
		return page, err
	}
	db := s.db.WithContext(ctx)
	// Neither the count nor the page's ids use the GiST prefilter: the
	// exact lon/lat bounds alone let an index-only scan of incidents_lonlat
	// (lon, lat, occurred_at, id) count a box and pick its newest ids
	// without visiting the table, where geom && would fetch every matching
	// row's page (a 1° box: ~15k random pages) and, multiplied with the
	// lon/lat bounds it duplicates, mislead the planner's row estimates.
	q, err := s.incidentQuery(db, f, false)
	if err != nil {
		return nil, err
	}
	count := q.Session(&gorm.Session{}).Select("count(*)")
	if c := f.Page.Cursor; c != nil {
		cond, args := o.After("i.", c, bindSortValue)
		q = q.Where(cond, args...)
	}
	// The page's rows are read by id once the order has chosen them, so
	// only limit + 1 rows are fetched from the table, whatever the matches.
	ids := q.Select("i.id").Order(o.SQL("i.")).Limit(f.Page.Limit + 1).Offset(f.Page.Offset)
	// One statement answers both, one round trip: the count is a one-row
	// subquery, and the LEFT JOIN keeps that row when the page is empty.
	raw := db.Raw(`SELECT m.matched, p.* FROM (?) AS m(matched)
		LEFT JOIN (SELECT `+incidentColumns+` FROM incidents AS i WHERE i.id IN (?)) AS p ON true
		ORDER BY `+o.SQL("p."), count, ids)
	// GORM only builds the statement here; what went wrong building it
	// stays on the query.
	if err := errors.Join(q.Error, raw.Error); err != nil {
		return nil, translate(err)
	}
	stmt := raw.Statement
	var matched int64
	incs := make([]*domain.Incident, 0, min(f.Page.Limit+1, 1024))
	err = s.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, stmt.SQL.String(), stmt.Vars...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if rows.RawValues()[1] == nil {
				// The page is empty: this row holds only the count.
				skip := make([]any, len(rows.RawValues()))
				skip[0] = &matched
				if err := rows.Scan(skip...); err != nil {
					return err
				}
				continue
			}
			inc, err := scanIncident(rows, &matched)
			if err != nil {
				return err
			}
			incs = append(incs, inc)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, translate(err)
	}
	page := store.PageOfIncidents(f, o, incs, false)
	page.Matched = int(matched)
	return page, nil
}

// bindSortValue is a cursor's value of a sort field as an argument: its
// times are microseconds since 1970, the columns timestamptz.
func bindSortValue(field string, v any) any {
	if us, ok := v.(int64); ok && store.IsTimeField(field) {
		return time.UnixMicro(us).UTC()
	}
	return v
}

// incidentQuery is the live incidents matching f (paging and sort aside),
// as a query on incidents aliased i; gist adds the GiST prefilter to a box
// or radius (see spatial).
func (s *Store) incidentQuery(db *gorm.DB, f domain.IncidentFilter, gist bool) (*gorm.DB, error) {
	q := db.Table("incidents AS i").Where("i.deleted_at IS NULL")
	q = spatial(q, f.BBox, f.Near, gist)
	if t := f.Time; t != nil {
		if t.Start != nil {
			q = q.Where("i.occurred_at >= ?", ts(*t.Start))
		}
		if t.End != nil {
			q = q.Where("i.occurred_at <= ?", ts(*t.End))
		}
	}
	q = anyOf(q, "i.type", f.Types)
	q = anyOf(q, "i.status", f.Statuses)
	q = anyOf(q, "i.country", f.Countries)
	q = anyOf(q, "i.facility_id", f.FacilityIDs)
	if f.SeverityMin != nil {
		q = q.Where("i.severity >= ?", *f.SeverityMin)
	}
	// Text of only spaces has no words, and matches everything, as on SQLite.
	if words := store.SearchLexemes(f.Text); len(words) > 0 {
		q = q.Where("i.search @@ CAST(? AS tsquery)", "'"+strings.Join(words, "' & '")+"'")
	}
	if len(f.ActorIDs) > 0 {
		cond, args, err := s.actorCondition(db, f.ActorIDs, f.ActorRoles, f.Attribution)
		if err != nil {
			return nil, err
		}
		q = q.Where(cond, args...)
	}
	if f.Where != nil {
		cond, args, err := compile(f.Where, domain.IncidentQueryables)
		if err != nil {
			return nil, err
		}
		q = q.Where(cond, args...)
	}
	return q, nil
}

// anyOf narrows q to rows whose column is one of values, when any are given.
func anyOf[T any](q *gorm.DB, column string, values []T) *gorm.DB {
	if len(values) == 0 {
		return q
	}
	list := make([]any, len(values))
	for i, v := range values {
		list[i] = v
	}
	// GORM spells a []any argument out as ($1, $2, …).
	return q.Where(column+" IN ?", list)
}

// spatial narrows q (table aliased i) to rows in any of the boxes, or
// within near's radius: the exact coordinates decide, and the radius is
// pw_distance, the formula distance_m is computed with. With gist, the
// GiST index prefilters with && (its boxes are 32-bit floats, rounded
// outwards, so the result is the same); without it the planner may
// answer from the (lon, lat) btree alone. Both forms match the same rows.
func spatial(q *gorm.DB, bbox []orb.Bound, near *domain.Near, gist bool) *gorm.DB {
	bounds := bbox
	if bounds == nil && near != nil {
		bounds = geo.RadiusBounds(near.Center, near.RadiusM)
	}
	if bounds == nil {
		return q
	}
	parts := make([]string, len(bounds))
	var args []any
	for i, b := range bounds {
		parts[i] = "(i.lon BETWEEN ? AND ? AND i.lat BETWEEN ? AND ?)"
		if gist {
			parts[i] = "(i.geom && ST_MakeEnvelope(?, ?, ?, ?, 4326) AND " + parts[i][1:]
			args = append(args, b.Min[0], b.Min[1], b.Max[0], b.Max[1])
		}
		args = append(args, b.Min[0], b.Max[0], b.Min[1], b.Max[1])
	}
	q = q.Where("("+strings.Join(parts, " OR ")+")", args...)
	if near != nil {
		// As geo.Within: the inlined haversine settles all but the points
		// near the circle, and only those pay for the PL/pgSQL iteration
		// (12 µs a call).
		h := "pw_haversine(i.lon, i.lat, @lon, @lat)"
		q = q.Where(h+" * 0.993 <= @r AND ("+h+" * 1.004 <= @r OR pw_distance(i.lon, i.lat, @lon, @lat) <= @r)",
			sql.Named("lon", near.Center[0]), sql.Named("lat", near.Center[1]), sql.Named("r", near.RadiusM))
	}
	return q
}

// actorCondition narrows to incidents naming one of ids (in one of roles,
// when given) or, with chain attribution, naming in an attribution role
// (domain.ChainRoles) an actor that ids are, or control, direct,
// facilitate, sponsor or lead at the incident's time
// (domain.AttributionWindows). The chain's windows travel as one JSON
// parameter, so the statement is the same however large the graph.
func (s *Store) actorCondition(db *gorm.DB, ids []string, roles []domain.ActorRole, mode domain.Attribution) (string, []any, error) {
	if mode != domain.AttributionChain {
		if len(roles) > 0 {
			return "i.id IN (SELECT incident_id FROM incident_actors WHERE actor_id IN ? AND role IN ?)", []any{ids, roleStrings(roles)}, nil
		}
		return "i.id IN (SELECT incident_id FROM incident_actors WHERE actor_id IN ?)", []any{ids}, nil
	}
	rels, err := allRelations(db)
	if err != nil {
		return "", nil, err
	}
	type window struct {
		Actor string     `json:"actor"`
		From  *time.Time `json:"from"`
		To    *time.Time `json:"to"`
	}
	windows := []window{}
	for actor, ws := range domain.AttributionWindows(ids, rels) {
		for _, w := range ws {
			windows = append(windows, window{actor, tsPtr(w.From), tsPtr(w.To)})
		}
	}
	list, err := json.Marshal(windows)
	if err != nil {
		return "", nil, err
	}
	return `EXISTS (SELECT 1 FROM incident_actors ia
		JOIN jsonb_to_recordset(CAST(? AS jsonb)) AS w(actor text, "from" timestamptz, "to" timestamptz) ON ia.actor_id = w.actor
		WHERE ia.incident_id = i.id AND ia.role IN ?
		AND (w."from" IS NULL OR i.occurred_at >= w."from") AND (w."to" IS NULL OR i.occurred_at < w."to"))`,
		[]any{string(list), roleStrings(domain.ChainRoles(roles))}, nil
}

// roleStrings is roles as text, for an IN list.
func roleStrings(roles []domain.ActorRole) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}
