package store

import (
	"database/sql"
	"math"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// ScanClusters reads rows of (x, y, count, sum of lon, sum of lat, max
// severity), one per web-mercator tile, into clusters centred on the mean
// of their points.
func ScanClusters(rows *sql.Rows) ([]domain.IncidentCluster, error) {
	defer rows.Close()
	out := []domain.IncidentCluster{}
	for rows.Next() {
		var c domain.IncidentCluster
		var sumLon, sumLat float64
		if err := rows.Scan(&c.X, &c.Y, &c.Count, &sumLon, &sumLat, &c.MaxSeverity); err != nil {
			return nil, err
		}
		c.Center = orb.Point{ClampMean(sumLon, c.Count, 180), ClampMean(sumLat, c.Count, 90)}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClampMean is sum/n kept within ±limit, which the float sum of values
// within it can overstep by a rounding error.
func ClampMean(sum float64, n int, limit float64) float64 {
	return math.Min(math.Max(sum/float64(n), -limit), limit)
}
