package postgis

import (
	"context"

	"github.com/postwatch/postwatch/domain"
)

// bucketKeys are the SQL expressions of each grouping, as text: days and
// months of the UTC calendar, weeks by the date of their Monday (ISO 8601,
// date_trunc's week) — the keys store/sqlite makes.
var bucketKeys = map[domain.GroupBy]string{
	"day":      `to_char(i.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
	"week":     `to_char(date_trunc('week', i.occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`,
	"month":    `to_char(i.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM')`,
	"type":     `i.type`,
	"country":  `i.country`,
	"facility": `CAST(i.facility_id AS text)`,
	"actor":    `ia.actor_id`,
}

// CountIncidents counts the incidents matching f in buckets: time buckets
// in time order, others by count then key (bytewise, as on SQLite). An
// incident without a country or facility is left out of those groupings;
// one naming several actors counts once for each.
func (s *Store) CountIncidents(ctx context.Context, f domain.IncidentFilter, by domain.GroupBy) ([]domain.Bucket, error) {
	key, ok := bucketKeys[by]
	if !ok {
		return nil, domain.InvalidField("group_by", "%q is not one of day, week, month, type, actor, facility, country", by)
	}
	q, err := s.incidentQuery(s.db.WithContext(ctx), f)
	if err != nil {
		return nil, err
	}
	switch by {
	case "actor":
		q = q.Joins("JOIN incident_actors ia ON ia.incident_id = i.id")
	case "country":
		q = q.Where("i.country <> ''")
	case "facility":
		q = q.Where("i.facility_id IS NOT NULL")
	}
	order := `n DESC, k`
	if by == "day" || by == "week" || by == "month" {
		order = `k`
	}
	out := []domain.Bucket{}
	rows, err := q.Select(`(` + key + `) COLLATE "C" AS k, count(DISTINCT i.id) AS n`).Group("k").Order(order).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b domain.Bucket
		if err := rows.Scan(&b.Key, &b.Count); err != nil {
			return nil, translate(err)
		}
		out = append(out, b)
	}
	return out, translate(rows.Err())
}
