package store

import (
	"database/sql"
	"slices"
	"strings"

	"github.com/postwatch/postwatch/domain"
)

// StatsPlan is the engine-neutral part of a statistic's query: the key
// expressions of q.By, in order, from the engine's own, and how the
// grouped rows (k0[, k1], n, sum(killed), sum(injured)) are ordered: time
// buckets in time order, others by count then key.
type StatsPlan struct {
	Keys    []string
	GroupBy string // "k0" or "k0, k1"
	OrderBy string
}

// PlanStats checks q (one or two groupings among keys, sums among
// domain.SumFields; EINVALID naming group_by or sum otherwise) and plans
// its query.
func PlanStats(q domain.StatsQuery, keys map[domain.GroupBy]string) (StatsPlan, error) {
	if len(q.By) == 0 || len(q.By) > 2 {
		return StatsPlan{}, domain.InvalidField("group_by", "takes one or two groupings")
	}
	var p StatsPlan
	for _, by := range q.By {
		key, ok := keys[by]
		if !ok {
			return StatsPlan{}, domain.InvalidField("group_by", "%q is not one of day, week, month, type, actor, facility, country", by)
		}
		p.Keys = append(p.Keys, key)
	}
	for _, field := range q.Sum {
		if !slices.Contains(domain.SumFields, field) {
			return StatsPlan{}, domain.InvalidField("sum", "%q is not one of %s", field, strings.Join(domain.SumFields, ", "))
		}
	}
	p.GroupBy = "k0"
	if len(q.By) == 2 {
		p.GroupBy = "k0, k1"
	}
	switch {
	case q.By[0].IsTime():
		p.OrderBy = p.GroupBy
	case len(q.By) == 2 && q.By[1].IsTime():
		p.OrderBy = "k0, k1"
	default:
		p.OrderBy = "n DESC, " + p.GroupBy
	}
	return p, nil
}

// ScanBuckets reads the rows of a planned statistic into buckets.
func ScanBuckets(rows *sql.Rows, q domain.StatsQuery) ([]domain.Bucket, error) {
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
