package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/postwatch/postwatch/domain"
)

// bucketKeys are the SQL expressions of each grouping; times are stored as
// microseconds since 1970, and weeks start on Monday (ISO 8601).
var bucketKeys = map[domain.GroupBy]string{
	"day":      `strftime('%Y-%m-%d', i.occurred_at / 1000000, 'unixepoch')`,
	"week":     `date(i.occurred_at / 1000000, 'unixepoch', 'weekday 0', '-6 days')`,
	"month":    `strftime('%Y-%m', i.occurred_at / 1000000, 'unixepoch')`,
	"type":     `i.type`,
	"country":  `i.country`,
	"facility": `i.facility_id`,
	"actor":    `ia.actor_id`,
}

// CountIncidents counts the incidents matching f in buckets of q.By and
// adds up q.Sum in each. An incident without a country or facility is left
// out of those groupings; one naming several actors counts once for each
// actor (and once in each of its sums), never twice for one.
func (s *Store) CountIncidents(ctx context.Context, f domain.IncidentFilter, q domain.StatsQuery) ([]domain.Bucket, error) {
	if len(q.By) == 0 || len(q.By) > 2 {
		return nil, domain.InvalidField("group_by", "takes one or two groupings")
	}
	var keys []string
	timeFirst := q.By[0].IsTime()
	for i, by := range q.By {
		key, ok := bucketKeys[by]
		if !ok {
			return nil, domain.InvalidField("group_by", "%q is not one of day, week, month, type, actor, facility, country", by)
		}
		keys = append(keys, fmt.Sprintf("CAST(%s AS TEXT) AS k%d", key, i))
	}
	for _, field := range q.Sum {
		if !slices.Contains(domain.SumFields, field) {
			return nil, domain.InvalidField("sum", "%q is not one of %s", field, strings.Join(domain.SumFields, ", "))
		}
	}
	w, err := s.incidentWhere(ctx, f)
	if err != nil {
		return nil, err
	}
	from := `incidents i`
	for _, by := range q.By {
		switch by {
		case "actor":
			from += ` JOIN incident_actors ia ON ia.incident_id = i.id`
		case "country":
			w.add("i.country != ''")
		case "facility":
			w.add("i.facility_id IS NOT NULL")
		}
	}
	group := []string{"k0"}
	if len(q.By) == 2 {
		group = append(group, "k1")
	}
	// DISTINCT: an actor named in two roles joins twice.
	inner := `SELECT DISTINCT i.id, i.killed, i.injured, ` + strings.Join(keys, ", ") + ` FROM ` + from + ` WHERE ` + w.sql()
	cols := strings.Join(group, ", ")
	order := `n DESC, ` + cols
	if timeFirst {
		order = cols
	} else if len(q.By) == 2 && q.By[1].IsTime() {
		order = `k0, k1`
	}
	rows, err := s.read.WithContext(ctx).Raw(`SELECT `+cols+`, count(*) AS n, sum(killed), sum(injured) FROM (`+inner+
		`) GROUP BY `+cols+` ORDER BY `+order, w.args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Bucket{}
	for rows.Next() {
		b := domain.Bucket{Keys: make([]string, len(q.By))}
		var killed, injured int64
		dest := []any{}
		for i := range b.Keys {
			dest = append(dest, &b.Keys[i])
		}
		if err := rows.Scan(append(dest, &b.Count, &killed, &injured)...); err != nil {
			return nil, err
		}
		b.Key = domain.BucketKey(b.Keys)
		if len(q.Sum) > 0 {
			b.Sum = map[string]int64{}
			for _, field := range q.Sum {
				b.Sum[field] = map[string]int64{"killed": killed, "injured": injured}[field]
			}
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
