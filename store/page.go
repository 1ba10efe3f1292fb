package store

import (
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// SortKeyOf is the cursor key of inc in the sort order k: the severity, or
// occurred_at in microseconds since 1970.
func SortKeyOf(k domain.SortKey, inc *domain.Incident) int64 {
	if k == domain.SortSeverity || k == domain.SortSeverityDesc {
		return int64(inc.Severity)
	}
	return inc.OccurredAt.UnixMicro()
}

// PageOfIncidents makes a page of incidents in f's order, up to its limit,
// with a cursor when more follow. distance_m is computed here, by
// geo.Distance, on every engine, so it is the same number whichever
// database answered.
func PageOfIncidents(f domain.IncidentFilter, incs []*domain.Incident, more bool) *domain.IncidentPage {
	limit := f.Page.Limit
	if len(incs) > limit {
		incs, more = incs[:limit], true
	}
	page := &domain.IncidentPage{Items: make([]domain.IncidentHit, 0, len(incs))}
	for _, inc := range incs {
		hit := domain.IncidentHit{Incident: inc}
		if f.Near != nil {
			d := geo.Distance(f.Near.Center, inc.Location)
			hit.DistanceM = &d
		}
		page.Items = append(page.Items, hit)
	}
	if more && len(page.Items) > 0 {
		last := page.Items[len(page.Items)-1]
		page.Next = &domain.Cursor{Sort: f.SortBy, Key: SortKeyOf(f.SortBy, last.Incident), ID: last.ID}
	}
	return page
}
