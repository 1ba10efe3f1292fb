package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

const alertStreamPath = "/alerts/stream"

// Alert stream timing: new incidents are looked for every alertPoll, so
// that incidents stored by any process (an import, another server) alert
// too; a comment every alertKeepAlive keeps proxies from closing the
// stream.
const (
	alertPoll      = time.Second
	alertKeepAlive = 15 * time.Second
)

// alert is the data of an alert event: an incident stored within a
// facility's alert radius.
type alert struct {
	Incident   feature `json:"incident"`
	FacilityID int64   `json:"facility_id"`
	Facility   string  `json:"facility"`
	DistanceM  float64 `json:"distance_m"`
}

// alertStream sends an "alert" Server-Sent Event for every incident stored
// after the client connected within the alert_radius_m of a facility.
func (s *Server) alertStream(c *gin.Context) {
	ctx := c.Request.Context()
	last, err := s.incidents.LastIncidentID(ctx)
	if err != nil {
		s.writeError(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	fmt.Fprint(c.Writer, ": postwatch alerts\n\n")
	c.Writer.Flush()
	poll := time.NewTicker(alertPoll)
	defer poll.Stop()
	keepAlive := time.NewTicker(alertKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			fmt.Fprint(c.Writer, "event: close\ndata: the server is shutting down\n\n")
			c.Writer.Flush()
			return
		case <-keepAlive.C:
			fmt.Fprint(c.Writer, ": keep-alive\n\n")
			c.Writer.Flush()
		case <-poll.C:
			next, err := s.sendAlerts(ctx, c, last)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("alert stream", "err", err, "request_id", requestID(c))
				}
				return
			}
			last = next
		}
	}
}

// sendAlerts writes the alerts of incidents stored after id and returns
// the last id it looked at.
func (s *Server) sendAlerts(ctx context.Context, c *gin.Context, id int64) (int64, error) {
	incs, err := s.incidents.IncidentsAfter(ctx, id, 1000)
	if err != nil {
		return id, err
	}
	for i := range incs {
		inc := &incs[i]
		id = inc.ID
		near := &domain.Near{Center: inc.Location, RadiusM: domain.MaxAlertRadius}
		facs, err := s.facilities.FindFacilities(ctx, domain.FacilityFilter{Near: near, Page: domain.Page{Limit: domain.MaxLimit}})
		if err != nil {
			return id, err
		}
		for _, f := range facs.Items {
			d := geo.Distance(f.Location, inc.Location)
			if d > f.AlertRadiusM {
				continue
			}
			data, err := json.Marshal(alert{Incident: incidentFeature(inc, nil), FacilityID: f.ID, Facility: f.Name, DistanceM: float64(int64(d*10+0.5)) / 10})
			if err != nil {
				return id, err
			}
			fmt.Fprintf(c.Writer, "id: %d-%d\nevent: alert\ndata: %s\n\n", inc.ID, f.ID, data)
		}
	}
	c.Writer.Flush()
	return id, nil
}

// Close ends every alert stream, so that a graceful shutdown need not wait
// for clients that never hang up.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}
