package postgis

import (
	"context"
	"time"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// IncidentExtent returns the bounding box and time span of live incidents:
// the exact box of the live rows' coordinates, as SQLite's, the span from
// the ends of the occurred_at index.
func (s *Store) IncidentExtent(ctx context.Context) (*domain.Extent, error) {
	ext, err := s.extent(ctx, "incidents")
	if err != nil {
		return nil, err
	}
	var start, end *time.Time
	err = store.FirstRow(s.db.WithContext(ctx).Raw(`SELECT (SELECT min(occurred_at) FROM incidents WHERE deleted_at IS NULL),
		(SELECT max(occurred_at) FROM incidents WHERE deleted_at IS NULL)`).Rows()).Scan(&start, &end)
	if err != nil {
		return nil, translate(err)
	}
	ext.Start, ext.End = utcPtr(start), utcPtr(end)
	return ext, nil
}

// FacilityExtent returns the bounding box of live facilities.
func (s *Store) FacilityExtent(ctx context.Context) (*domain.Extent, error) {
	return s.extent(ctx, "facilities")
}

// extent is the box of the live rows of table; no box when it has none.
func (s *Store) extent(ctx context.Context, table string) (*domain.Extent, error) {
	var minLon, minLat, maxLon, maxLat *float64
	err := store.FirstRow(s.db.WithContext(ctx).Raw(`SELECT min(lon), min(lat), max(lon), max(lat) FROM `+table+
		` WHERE deleted_at IS NULL`).Rows()).Scan(&minLon, &minLat, &maxLon, &maxLat)
	if err != nil {
		return nil, translate(err)
	}
	ext := &domain.Extent{}
	if minLon != nil {
		ext.BBox = &[4]float64{*minLon, *minLat, *maxLon, *maxLat}
	}
	return ext, nil
}
