package postgis

import (
	"context"
	"fmt"
	"strings"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
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

// CountIncidents counts the incidents matching f in buckets of q.By and
// adds up q.Sum in each (store.PlanStats orders them). An incident without
// a country or facility is left out of those groupings; one naming several
// actors counts once for each actor, never twice for one.
func (s *Store) CountIncidents(ctx context.Context, f domain.IncidentFilter, q domain.StatsQuery) ([]domain.Bucket, error) {
	plan, err := store.PlanStats(q, bucketKeys)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(plan.Keys))
	for i, key := range plan.Keys {
		// Keys compare bytewise, as SQLite's do.
		keys[i] = fmt.Sprintf(`(%s) COLLATE "C" AS k%d`, key, i)
	}
	inner, err := s.incidentQuery(s.db.WithContext(ctx), f, true)
	if err != nil {
		return nil, err
	}
	for _, by := range q.By {
		switch by {
		case "actor":
			inner = inner.Joins("JOIN incident_actors ia ON ia.incident_id = i.id")
		case "country":
			inner = inner.Where("i.country <> ''")
		case "facility":
			inner = inner.Where("i.facility_id IS NOT NULL")
		}
	}
	// DISTINCT: an actor named in two roles joins twice.
	inner = inner.Distinct().Select("i.id, i.killed, i.injured, " + strings.Join(keys, ", "))
	rows, err := s.db.WithContext(ctx).Table("(?) AS b", inner).
		Select(plan.GroupBy + ", count(*) AS n, sum(killed), sum(injured)").Group(plan.GroupBy).Order(plan.OrderBy).Rows()
	if err != nil {
		return nil, translate(err)
	}
	buckets, err := store.ScanBuckets(rows, q)
	return buckets, translate(err)
}
