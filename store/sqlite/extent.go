package sqlite

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// extentPad widens a bounding box read from an R*Tree node, whose text form
// (rtreenode) keeps six significant digits, so that it still contains
// every point.
const extentPad = 1e-4

// IncidentExtent returns the bounding box and time span of live incidents.
// Both come from indexes in constant time, so /collections stays cheap on
// a large table under write load: the box from the root of the R*Tree,
// which bounds every live incident, the span from the ends of the
// occurred_at index.
//
// While an import rebuilds the tree and the index (treeStaleTable), both
// come from one pass over the rows: 0.3–0.5 s at 1M with the table in the OS
// page cache.
func (s *Store) IncidentExtent(ctx context.Context) (*domain.Extent, error) {
	current, err := s.incidentTreeCurrent(ctx)
	if err != nil {
		return nil, err
	}
	if !current {
		return s.rowExtent(ctx)
	}
	bbox, err := s.treeExtent(ctx, "incidents_rtree_node", 3)
	if err != nil {
		return nil, err
	}
	var start, end *int64
	err = store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT (SELECT min(occurred_at) FROM incidents WHERE deleted_at IS NULL),
		(SELECT max(occurred_at) FROM incidents WHERE deleted_at IS NULL)`).Rows()).Scan(&start, &end)
	if err != nil {
		return nil, err
	}
	return &domain.Extent{BBox: bbox, Start: timePtr(start), End: timePtr(end)}, nil
}

// FacilityExtent returns the bounding box of live facilities.
func (s *Store) FacilityExtent(ctx context.Context) (*domain.Extent, error) {
	bbox, err := s.treeExtent(ctx, "facilities_rtree_node", 2)
	if err != nil {
		return nil, err
	}
	return &domain.Extent{BBox: bbox}, nil
}

// treeExtent unions the boxes of an R*Tree's root node (node 1), which
// together bound every entry; nil when the tree is empty.
func (s *Store) treeExtent(ctx context.Context, nodeTable string, dims int) (*[4]float64, error) {
	var text string
	err := store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT coalesce(rtreenode(?, data), '') FROM `+nodeTable+` WHERE nodeno = 1`, dims).Rows()).Scan(&text)
	if err != nil {
		return nil, err
	}
	entries := strings.Fields(strings.NewReplacer("{", " ", "}", " ").Replace(text))
	if len(entries) == 0 {
		return nil, nil
	}
	width := 1 + 2*dims // id, then min and max per dimension
	if len(entries)%width != 0 {
		return nil, fmt.Errorf("%s: unexpected root node %q", nodeTable, text)
	}
	box := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for i := 0; i < len(entries); i += width {
		var v [4]float64 // min_lon, max_lon, min_lat, max_lat
		for j := range v {
			if _, err := fmt.Sscan(entries[i+1+j], &v[j]); err != nil {
				return nil, fmt.Errorf("%s: root node: %w", nodeTable, err)
			}
		}
		box[0], box[2] = math.Min(box[0], v[0]), math.Max(box[2], v[1])
		box[1], box[3] = math.Min(box[1], v[2]), math.Max(box[3], v[3])
	}
	box[0], box[1] = math.Max(-180, box[0]-extentPad), math.Max(-90, box[1]-extentPad)
	box[2], box[3] = math.Min(180, box[2]+extentPad), math.Min(90, box[3]+extentPad)
	return &box, nil
}

// rowExtent is IncidentExtent from the rows themselves, for while the
// R*Tree and the occurred_at index are stale.
func (s *Store) rowExtent(ctx context.Context) (*domain.Extent, error) {
	var minLon, minLat, maxLon, maxLat *float64
	var start, end *int64
	err := store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT min(lon), min(lat), max(lon), max(lat), min(occurred_at), max(occurred_at)
		FROM incidents WHERE deleted_at IS NULL`).Rows()).Scan(&minLon, &minLat, &maxLon, &maxLat, &start, &end)
	if err != nil {
		return nil, err
	}
	if minLon == nil {
		return &domain.Extent{}, nil
	}
	return &domain.Extent{BBox: &[4]float64{*minLon, *minLat, *maxLon, *maxLat}, Start: timePtr(start), End: timePtr(end)}, nil
}
