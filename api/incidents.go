package api

import (
	"context"
	"net/url"
	"strings"

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
		properties:  incidentPropertyNames,
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
			out := &featurePage{matched: page.Matched, next: page.Next, chained: chained(f)}
			out.features, err = s.incidentFeatures(ctx, page.Items, s.chainFinder(f))
			return out, err
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

// chained reports whether f asks for chain attribution, so that each
// feature shows its chain.
func chained(f domain.IncidentFilter) bool {
	return f.Attribution == domain.AttributionChain && len(f.ActorIDs) > 0
}

// chainFinder explains the matches of f's chain attribution; nil when f
// asks for none.
func (s *Server) chainFinder(f domain.IncidentFilter) *domain.ChainFinder {
	if !chained(f) {
		return nil
	}
	return domain.NewChainFinder(f.ActorIDs, domain.ChainRoles(f.ActorRoles), s.actors.FindRelations)
}

// incidentFeatures turns hits into features, each with its chain when
// chains is set.
func (s *Server) incidentFeatures(ctx context.Context, hits []domain.IncidentHit, chains *domain.ChainFinder) ([]feature, error) {
	out := make([]feature, len(hits))
	for i := range hits {
		out[i] = incidentFeature(hits[i].Incident, hits[i].DistanceM)
		if chains == nil {
			continue
		}
		ch, err := chains.Shortest(ctx, hits[i].Incident)
		if err != nil {
			return nil, err
		}
		out[i].Properties.(*incidentProps).Attribution = ch
	}
	return out, nil
}

// chainText writes a chain for people: "irgc-qf directs kataib-hezbollah".
func chainText(ch *domain.Chain) string {
	if ch == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(ch.Path[0])
	for i, k := range ch.Relations {
		b.WriteString(" " + string(k) + " " + ch.Path[i+1])
	}
	return b.String()
}
