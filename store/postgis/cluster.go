package postgis

import (
	"context"
	"math"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// clusterCell is the column and row, at zoom z (its parameters: 2^z and
// 2^z - 1), of the web-mercator tile holding i.lon, i.lat:
// maptile.Fraction's formula, floored and clamped to the world, latitudes
// beyond ±85.0511° in the top or bottom row — as store/sqlite computes it.
const clusterCell = `least(greatest(floor((i.lon / 360.0 + 0.5) * @n)::bigint, 0), @max) AS cx,
	CASE WHEN i.lat > 85.0511 THEN 0 WHEN i.lat < -85.0511 THEN @max ELSE
		least(greatest(floor((0.5 - ln((1 + sin(radians(i.lat))) / (1 - sin(radians(i.lat)))) / (4 * pi())) * @n)::bigint, 0), @max)
	END AS cy`

// ClusterIncidents groups the matches of f by the web-mercator tile of
// zoom z holding them, in one aggregate query over FindIncidents's
// conditions (see domain.IncidentService).
func (s *Store) ClusterIncidents(ctx context.Context, f domain.IncidentFilter, z int) ([]domain.IncidentCluster, error) {
	if z < 0 || z > domain.MaxClusterZoom {
		return nil, domain.InvalidField("z", "zoom %d is outside 0..%d", z, domain.MaxClusterZoom)
	}
	inner, err := s.incidentQuery(s.db.WithContext(ctx), f)
	if err != nil {
		return nil, err
	}
	n := int64(1) << z
	inner = inner.Select(clusterCell+", i.lon, i.lat, i.severity", map[string]any{"n": float64(n), "max": n - 1})
	rows, err := s.db.WithContext(ctx).Table("(?) AS c", inner).
		Select("cx, cy, count(*), sum(lon), sum(lat), max(severity)").Group("cx, cy").Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []domain.IncidentCluster{}
	for rows.Next() {
		var c domain.IncidentCluster
		var sumLon, sumLat float64
		if err := rows.Scan(&c.X, &c.Y, &c.Count, &sumLon, &sumLat, &c.MaxSeverity); err != nil {
			return nil, translate(err)
		}
		c.Center = orb.Point{clampMean(sumLon, c.Count, 180), clampMean(sumLat, c.Count, 90)}
		out = append(out, c)
	}
	return out, translate(rows.Err())
}

// clampMean is sum/n kept within ±limit, which the float sum of values
// within it can overstep by a rounding error.
func clampMean(sum float64, n int, limit float64) float64 {
	return math.Min(math.Max(sum/float64(n), -limit), limit)
}
