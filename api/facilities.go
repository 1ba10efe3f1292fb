package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

func facilityCollection(s *Server) *collection {
	svc := s.facilities
	toFeature := func(f *domain.Facility) feature { return facilityFeature(f, nil) }
	return &collection{
		s: s, id: "facilities", title: "Facilities",
		description: "Diplomatic posts — embassies, consulates, residences — with their alert radius and posture.",
		formats:     []string{"csv"},
		writeCSV:    writeFacilityCSV,
		list: func(ctx context.Context, q map[string][]string) (*featurePage, error) {
			f, err := ParseFacilityFilter(url.Values(q))
			if err != nil {
				return nil, err
			}
			page, err := svc.FindFacilities(ctx, f)
			if err != nil {
				return nil, err
			}
			out := &featurePage{matched: page.Matched, next: page.Next, features: make([]feature, len(page.Items))}
			for i := range page.Items {
				out.features[i] = facilityFeature(&page.Items[i].Facility, page.Items[i].DistanceM)
			}
			return out, nil
		},
		get: func(ctx context.Context, id int64) (*feature, error) {
			f, err := svc.FindFacilityByID(ctx, id)
			if err != nil {
				return nil, err
			}
			ft := toFeature(f)
			return &ft, nil
		},
		decode: func(body []byte) (any, error) { return DecodeFacility(body) },
		create: func(ctx context.Context, rec any) (*feature, error) {
			f := rec.(*domain.Facility)
			if err := svc.CreateFacility(ctx, f); err != nil {
				return nil, err
			}
			ft := toFeature(f)
			return &ft, nil
		},
		replace: func(ctx context.Context, id int64, rec any, ifVersion int) (*feature, error) {
			f := rec.(*domain.Facility)
			if err := svc.ReplaceFacility(ctx, id, f, ifVersion); err != nil {
				return nil, err
			}
			ft := toFeature(f)
			return &ft, nil
		},
		delete: svc.DeleteFacility,
		history: func(ctx context.Context, id int64) ([]historyEntry, error) {
			vs, err := svc.FacilityHistory(ctx, id)
			if err != nil {
				return nil, err
			}
			return historyEntries(vs, toFeature), nil
		},
		extent: svc.FacilityExtent,
	}
}

type postureIn struct {
	Posture     string  `json:"posture"`
	EffectiveAt *string `json:"effective_at"`
	Reason      string  `json:"reason"`
}

func (s *Server) recordPosture(c *gin.Context) {
	id, ok := s.facilityCol.featureID(c)
	if !ok {
		return
	}
	body, err := readBody(c, "application/json")
	if err != nil {
		s.writeError(c, err)
		return
	}
	var in postureIn
	if err := decodeStrict(body, &in, ""); err != nil {
		s.writeError(c, err)
		return
	}
	change := &domain.PostureChange{FacilityID: id, Posture: domain.Posture(in.Posture), Reason: in.Reason, EffectiveAt: time.Now()}
	if in.EffectiveAt != nil {
		if change.EffectiveAt, err = parseTime("effective_at", *in.EffectiveAt); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if err := s.facilities.RecordPosture(c.Request.Context(), change); err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", baseURL(c)+c.Request.URL.Path)
	c.JSON(http.StatusCreated, change)
}

func (s *Server) listPostures(c *gin.Context) {
	id, ok := s.facilityCol.featureID(c)
	if !ok {
		return
	}
	ps, err := s.facilities.FindPostures(c.Request.Context(), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"postures": ps})
}
