package store

import (
	"context"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// extentTTL bounds how stale a collection's advertised extent may be.
// Extents are computed over every live row, too costly to redo for each
// /collections request on a large table; writes in this process clear the
// cache at once, imports from another process show within the TTL.
const extentTTL = 10 * time.Second

type cachedExtent struct {
	extent *domain.Extent
	at     time.Time
}

// IncidentExtent returns the bounding box and time span of live incidents.
func (s *Store) IncidentExtent(ctx context.Context) (*domain.Extent, error) {
	return s.extent(ctx, collIncidents, `SELECT min(lon), min(lat), max(lon), max(lat), min(occurred_at), max(occurred_at)
		FROM incidents WHERE deleted_at IS NULL`)
}

// FacilityExtent returns the bounding box of live facilities.
func (s *Store) FacilityExtent(ctx context.Context) (*domain.Extent, error) {
	return s.extent(ctx, collFacilities, `SELECT min(lon), min(lat), max(lon), max(lat), NULL, NULL
		FROM facilities WHERE deleted_at IS NULL`)
}

func (s *Store) extent(ctx context.Context, coll, query string) (*domain.Extent, error) {
	s.extentMu.Lock()
	c, ok := s.extentCache[coll]
	s.extentMu.Unlock()
	if ok && time.Since(c.at) < extentTTL {
		return c.extent, nil
	}
	var minLon, minLat, maxLon, maxLat *float64
	var start, end *int64
	row := s.read.WithContext(ctx).Raw(query).Row()
	if err := row.Scan(&minLon, &minLat, &maxLon, &maxLat, &start, &end); err != nil {
		return nil, err
	}
	e := &domain.Extent{Start: timePtr(start), End: timePtr(end)}
	if minLon != nil {
		e.BBox = &[4]float64{*minLon, *minLat, *maxLon, *maxLat}
	}
	s.extentMu.Lock()
	s.extentCache[coll] = cachedExtent{extent: e, at: time.Now()}
	s.extentMu.Unlock()
	return e, nil
}

// forgetExtents drops cached extents after a write changed them.
func (s *Store) forgetExtents() {
	s.extentMu.Lock()
	clear(s.extentCache)
	s.extentMu.Unlock()
}
