package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

// incidentStats counts incidents in buckets, under any items filter.
func (s *Server) incidentStats(c *gin.Context) {
	q := c.Request.URL.Query()
	by, err := domain.ParseEnumList("group_by", q.Get("group_by"), domain.GroupBys)
	if err != nil || len(by) != 1 {
		s.writeError(c, domain.InvalidField("group_by", "must be one of day, week, month, type, actor, facility, country"))
		return
	}
	f, err := ParseIncidentFilter(q)
	if err != nil {
		s.writeError(c, err)
		return
	}
	buckets, err := s.incidents.CountIncidents(c.Request.Context(), f, by[0])
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"group_by": by[0], "buckets": buckets})
}
