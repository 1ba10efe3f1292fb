package sqlite

import (
	"context"

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

// CountIncidents counts the incidents matching f in buckets. An incident
// without a country or facility is left out of those groupings; one naming
// several actors counts once for each.
func (s *Store) CountIncidents(ctx context.Context, f domain.IncidentFilter, by domain.GroupBy) ([]domain.Bucket, error) {
	key, ok := bucketKeys[by]
	if !ok {
		return nil, domain.InvalidField("group_by", "%q is not one of day, week, month, type, actor, facility, country", by)
	}
	w, err := s.incidentWhere(ctx, f)
	if err != nil {
		return nil, err
	}
	from := `incidents i`
	switch by {
	case "actor":
		from += ` JOIN incident_actors ia ON ia.incident_id = i.id`
	case "country":
		w.add("i.country != ''")
	case "facility":
		w.add("i.facility_id IS NOT NULL")
	}
	order := `n DESC, k`
	if by == "day" || by == "week" || by == "month" {
		order = `k`
	}
	rows, err := s.read.WithContext(ctx).Raw(`SELECT CAST(`+key+` AS TEXT) AS k, count(DISTINCT i.id) AS n FROM `+from+
		` WHERE `+w.sql()+` GROUP BY k ORDER BY `+order, w.args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Bucket{}
	for rows.Next() {
		var b domain.Bucket
		if err := rows.Scan(&b.Key, &b.Count); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
