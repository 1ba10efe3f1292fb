package postgis

import (
	"context"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/grid"
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
// zoom z holding them (see domain.IncidentService): from the grid when f's
// conditions are place, time, type, severity and direct actors only and it
// is built —
// one pass over the entries of the cells f's place overlaps — and
// otherwise in one aggregate query over FindIncidents's conditions.
func (s *Store) ClusterIncidents(ctx context.Context, f domain.IncidentFilter, z int) ([]domain.IncidentCluster, error) {
	if z < 0 || z > domain.MaxClusterZoom {
		return nil, domain.InvalidField("z", "zoom %d is outside 0..%d", z, domain.MaxClusterZoom)
	}
	if grid.Counts(f) || grid.ByActor(f) {
		g, err := s.currentGrid(ctx)
		if err != nil {
			return nil, err
		}
		if g != nil {
			q := grid.NewQuery(f)
			g.RLock()
			defer g.RUnlock()
			return g.Clusters(z, &q), nil
		}
	}
	inner, err := s.incidentQuery(s.db.WithContext(ctx), f, true)
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
	clusters, err := store.ScanClusters(rows)
	return clusters, translate(err)
}
