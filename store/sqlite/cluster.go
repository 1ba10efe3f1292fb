package sqlite

import (
	"context"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/grid"
)

// clusterCellSQL are the column and row, at the zoom z of its parameters
// (2^z, 2^z-1, 2^z-1, 2^z, 2^z-1: see clusterCellArgs), of the
// web-mercator tile holding i.lon, i.lat: maptile.Fraction's formula,
// floored and clamped to the world; like Fraction it puts latitudes beyond
// ±85.0511° in the top or bottom row.
const clusterCellSQL = `min(max(CAST(floor((i.lon / 360.0 + 0.5) * ?) AS INTEGER), 0), ?) AS cx,
	CASE WHEN i.lat > 85.0511 THEN 0 WHEN i.lat < -85.0511 THEN ? ELSE
		min(max(CAST(floor((0.5 - ln((1 + sin(radians(i.lat))) / (1 - sin(radians(i.lat)))) / (4 * pi())) * ?) AS INTEGER), 0), ?)
	END AS cy`

// clusterCellArgs are clusterCellSQL's parameters for zoom z.
func clusterCellArgs(z int) []any {
	n := int64(1) << z
	return []any{float64(n), n - 1, n - 1, float64(n), n - 1}
}

// ClusterIncidents groups the matches of f by the web-mercator tile of
// zoom z holding them (see domain.IncidentService): from the grid when it
// can answer f (see gridFor) — one pass over the entries of the cells f's
// place overlaps, or over f's actors' lists — and otherwise in
// one aggregate query over the conditions FindIncidents uses.
func (s *Store) ClusterIncidents(ctx context.Context, f domain.IncidentFilter, z int) ([]domain.IncidentCluster, error) {
	if z < 0 || z > domain.MaxClusterZoom {
		return nil, domain.InvalidField("z", "zoom %d is outside 0..%d", z, domain.MaxClusterZoom)
	}
	g, err := s.gridFor(ctx, f)
	if err != nil {
		return nil, err
	}
	if g != nil {
		q := grid.NewQuery(f)
		g.RLock()
		defer g.RUnlock()
		return g.Clusters(z, &q), nil
	}
	w, err := s.incidentWhere(ctx, f)
	if err != nil {
		return nil, err
	}
	args := append(clusterCellArgs(z), w.args...)
	rows, err := s.read.WithContext(ctx).Raw(`SELECT cx, cy, count(*), sum(lon), sum(lat), max(severity) FROM (
		SELECT `+clusterCellSQL+`, i.lon, i.lat, i.severity FROM incidents i WHERE `+w.sql()+`)
		GROUP BY cx, cy`, args...).Rows()
	if err != nil {
		return nil, err
	}
	return store.ScanClusters(rows)
}
