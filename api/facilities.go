package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
		properties:  facilityPropertyNames,
		queryables:  domain.FacilityQueryables,
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
	IncidentIDs []int64 `json:"incident_ids"`
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
	change := &domain.PostureChange{FacilityID: id, Posture: domain.Posture(in.Posture), Reason: in.Reason,
		EffectiveAt: time.Now(), IncidentIDs: in.IncidentIDs}
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

// MaxThreatWindow bounds the window of a threat assessment.
const MaxThreatWindow = 366 * 24 * time.Hour

// parseWindow reads a window such as 24h, 90m or 7d.
func parseWindow(raw string) (time.Duration, error) {
	if raw == "" {
		return 24 * time.Hour, nil
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(raw, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	} else {
		d, err = time.ParseDuration(raw)
	}
	if err != nil || d <= 0 || d > MaxThreatWindow {
		return 0, domain.InvalidField("window", "must be a duration such as 24h, 90m or 7d, up to 366d")
	}
	return d, nil
}

// facilityThreat assesses the threat against a facility from the incidents
// within its radius in the window before now and the window before that.
func (s *Server) facilityThreat(c *gin.Context) {
	id, ok := s.facilityCol.featureID(c)
	if !ok {
		return
	}
	q := c.Request.URL.Query()
	window, err := parseWindow(q.Get("window"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	fac, err := s.facilities.FindFacilityByID(ctx, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	radius := strconv.FormatFloat(fac.AlertRadiusM, 'f', -1, 64)
	if v, ok := lookup(q, "radius"); ok {
		radius = v
	}
	near, err := ParseNear(fmt.Sprintf("%v,%v", fac.Location[0], fac.Location[1]), radius)
	if err != nil {
		s.writeError(c, err)
		return
	}
	now := time.Now().UTC().Truncate(time.Second)
	// Every incident of a window counts, page by page: a window stopped at
	// one page would read 25,000 incidents as 10,000 and call the trend
	// steady. The request's deadline bounds the walk.
	summarize := func(from, to time.Time) (domain.WindowSummary, error) {
		last := to.Add(-time.Microsecond) // windows are half-open: [from, to)
		sum := domain.NewWindowSummary(from, to)
		f := domain.IncidentFilter{
			Near: near, Time: &domain.TimeRange{Start: &from, End: &last},
			SortBy: domain.SortOccurredAtDesc, Page: domain.Page{Limit: domain.MaxLimit},
		}
		for {
			page, err := s.incidents.FindIncidents(ctx, f)
			if err != nil {
				return domain.WindowSummary{}, err
			}
			for i := range page.Items {
				sum.Add(page.Items[i].Incident)
			}
			if page.Next == nil || len(page.Items) == 0 {
				return sum, nil
			}
			f.Page.Cursor = page.Next
		}
	}
	current, err := summarize(now.Add(-window), now)
	if err != nil {
		s.writeError(c, err)
		return
	}
	previous, err := summarize(now.Add(-2*window), now.Add(-window))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"facility_id": id, "radius_m": near.RadiusM, "window": window.String(),
		"level": current.Level(), "trend": domain.Trend(current, previous),
		"current": current, "previous": previous,
	})
}
