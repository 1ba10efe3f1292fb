package api

import (
	"context"
	"net/url"

	"github.com/postwatch/postwatch/domain"
)

func incidentCollection(s *Server) *collection {
	svc := s.incidents
	toFeature := func(inc *domain.Incident) feature { return incidentFeature(inc, nil) }
	return &collection{
		s: s, id: "incidents", title: "Incidents",
		description: "Events against diplomatic posts and their people: indirect fire, protests, drones, breaches…",
		formats:     []string{"csv", "stix"},
		writeCSV:    writeIncidentCSV,
		queryables:  domain.IncidentQueryables,
		list: func(ctx context.Context, q map[string][]string) (*featurePage, error) {
			f, err := ParseIncidentFilter(url.Values(q))
			if err != nil {
				return nil, err
			}
			page, err := svc.FindIncidents(ctx, f)
			if err != nil {
				return nil, err
			}
			out := &featurePage{matched: page.Matched, next: page.Next, features: make([]feature, len(page.Items))}
			for i := range page.Items {
				out.features[i] = incidentFeature(page.Items[i].Incident, page.Items[i].DistanceM)
			}
			return out, nil
		},
		get: func(ctx context.Context, id int64) (*feature, error) {
			inc, err := svc.FindIncidentByID(ctx, id)
			if err != nil {
				return nil, err
			}
			ft := toFeature(inc)
			return &ft, nil
		},
		decode: func(body []byte) (any, error) { return DecodeIncident(body) },
		create: func(ctx context.Context, rec any) (*feature, error) {
			inc := rec.(*domain.Incident)
			if err := svc.CreateIncident(ctx, inc); err != nil {
				return nil, err
			}
			ft := toFeature(inc)
			return &ft, nil
		},
		replace: func(ctx context.Context, id int64, rec any, ifVersion int) (*feature, error) {
			inc := rec.(*domain.Incident)
			if err := svc.ReplaceIncident(ctx, id, inc, ifVersion); err != nil {
				return nil, err
			}
			ft := toFeature(inc)
			return &ft, nil
		},
		delete: svc.DeleteIncident,
		history: func(ctx context.Context, id int64) ([]historyEntry, error) {
			vs, err := svc.IncidentHistory(ctx, id)
			if err != nil {
				return nil, err
			}
			return historyEntries(vs, toFeature), nil
		},
		extent: svc.IncidentExtent,
	}
}
