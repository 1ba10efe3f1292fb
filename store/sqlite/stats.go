package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
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
	plan, err := store.PlanStats(q, bucketKeys)
	if err != nil {
		return nil, err
	}
	var keys []string
	for i, key := range plan.Keys {
		keys = append(keys, fmt.Sprintf("CAST(%s AS TEXT) AS k%d", key, i))
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
	// DISTINCT: an actor named in two roles joins twice.
	inner := `SELECT DISTINCT i.id, i.killed, i.injured, ` + strings.Join(keys, ", ") + ` FROM ` + from + ` WHERE ` + w.sql()
	rows, err := s.read.WithContext(ctx).Raw(`SELECT `+plan.GroupBy+`, count(*) AS n, sum(killed), sum(injured) FROM (`+inner+
		`) GROUP BY `+plan.GroupBy+` ORDER BY `+plan.OrderBy, w.args...).Rows()
	if err != nil {
		return nil, err
	}
	return store.ScanBuckets(rows, q)
}
