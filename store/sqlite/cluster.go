package sqlite

import (
	"context"
	"math"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// clusterCellSQL are the column and row, at the zoom whose 2^z the first
// and third parameters give (the second and fourth: 2^z-1), of the
// web-mercator tile holding i.lon, i.lat: maptile.Fraction's formula,
// floored and clamped to the world; like Fraction it puts latitudes beyond
// ±85.0511° in the top or bottom row.
const clusterCellSQL = `min(max(CAST(floor((i.lon / 360.0 + 0.5) * ?) AS INTEGER), 0), ?) AS cx,
	min(max(CAST(floor((0.5 - ln((1 + sin(radians(min(max(i.lat, -85.0511), 85.0511)))) /
		(1 - sin(radians(min(max(i.lat, -85.0511), 85.0511))))) / (4 * pi())) * ?) AS INTEGER), 0), ?) AS cy`

// ClusterIncidents groups the matches of f by the web-mercator tile of
// zoom z holding them, in one aggregate query over the same conditions
// FindIncidents uses (see domain.IncidentService).
func (s *Store) ClusterIncidents(ctx context.Context, f domain.IncidentFilter, z int) ([]domain.IncidentCluster, error) {
	if z < 0 || z > domain.MaxClusterZoom {
		return nil, domain.InvalidField("z", "zoom %d is outside 0..%d", z, domain.MaxClusterZoom)
	}
	w, err := s.incidentWhere(ctx, f)
	if err != nil {
		return nil, err
	}
	n := int64(1) << z
	args := append([]any{float64(n), n - 1, float64(n), n - 1}, w.args...)
	rows, err := s.read.WithContext(ctx).Raw(`SELECT cx, cy, count(*), sum(lon), sum(lat), max(severity) FROM (
		SELECT `+clusterCellSQL+`, i.lon, i.lat, i.severity FROM incidents i WHERE `+w.sql()+`)
		GROUP BY cx, cy`, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.IncidentCluster{}
	for rows.Next() {
		var c domain.IncidentCluster
		var sumLon, sumLat float64
		if err := rows.Scan(&c.X, &c.Y, &c.Count, &sumLon, &sumLat, &c.MaxSeverity); err != nil {
			return nil, err
		}
		c.Center = orb.Point{clampMean(sumLon, c.Count, 180), clampMean(sumLat, c.Count, 90)}
		out = append(out, c)
	}
	return out, rows.Err()
}

// clampMean is sum/n kept within ±limit, which the float sum of values
// within it can overstep by a rounding error.
func clampMean(sum float64, n int, limit float64) float64 {
	return math.Min(math.Max(sum/float64(n), -limit), limit)
}
