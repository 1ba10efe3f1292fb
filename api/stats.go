package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

// incidentStats counts incidents in buckets, under any items filter:
// group_by one grouping or two (group_by=month,type), sum= the casualty
// fields to add up in each bucket. Time buckets run gap-free from the first
// to the last (domain.FillTimeGaps). The answer is
// {"group_by": "month,type", "buckets": [{"key": "2018-09/ied", "keys":
// ["2018-09", "ied"], "count": n, "sum": {"killed": k}}]}; with one grouping
// key is its value, as before.
func (s *Server) incidentStats(c *gin.Context) {
	q := c.Request.URL.Query()
	by, err := domain.ParseEnumList("group_by", q.Get("group_by"), domain.GroupBys)
	if err != nil || len(by) > 2 {
		s.writeError(c, domain.InvalidField("group_by", "must be one or two of day, week, month, type, actor, facility, country"))
		return
	}
	if len(by) == 2 && (by[0] == by[1] || by[0].IsTime() && by[1].IsTime()) {
		s.writeError(c, domain.InvalidField("group_by", "two groupings must differ, and at most one may be a time"))
		return
	}
	stats := domain.StatsQuery{By: by}
	if v, ok := lookup(q, "sum"); ok {
		if stats.Sum, err = parseStrings("sum", v); err != nil {
			s.writeError(c, err)
			return
		}
		for i, field := range stats.Sum {
			if !slices.Contains(domain.SumFields, field) || slices.Contains(stats.Sum[:i], field) {
				s.writeError(c, domain.InvalidField("sum", "%q is not one of %s, or is named twice", field, strings.Join(domain.SumFields, ", ")))
				return
			}
		}
	}
	f, err := ParseIncidentFilter(q)
	if err != nil {
		s.writeError(c, err)
		return
	}
	buckets, err := s.incidents.CountIncidents(c.Request.Context(), f, stats)
	if err == nil {
		buckets, err = domain.FillTimeGaps(buckets, stats)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	names := make([]string, len(by))
	for i, g := range by {
		names[i] = string(g)
	}
	c.JSON(http.StatusOK, gin.H{"group_by": strings.Join(names, ","), "buckets": buckets})
}
