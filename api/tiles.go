package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// tilePath is the gin route of tiles; its last parameter holds "{y}.mvt".
const tilePath = "/tiles/:z/:x/:y"

// tile serves incidents and facilities of one web-mercator tile as a
// Mapbox Vector Tile, with layers "incidents" (under any items filter) and
// "facilities".
func (s *Server) tile(c *gin.Context) {
	yPart, ok := strings.CutSuffix(c.Param("y"), ".mvt")
	z, errZ := strconv.Atoi(c.Param("z"))
	x, errX := strconv.Atoi(c.Param("x"))
	y, errY := strconv.Atoi(yPart)
	if !ok || errZ != nil || errX != nil || errY != nil {
		s.writeError(c, domain.Errorf(domain.ENOTFOUND, "tiles are /tiles/{z}/{x}/{y}.mvt with integer z, x and y"))
		return
	}
	t, err := geo.NewTile(z, x, y)
	if err != nil {
		s.writeError(c, domain.Errorf(domain.ENOTFOUND, "%s", err.Error()))
		return
	}
	f, err := ParseIncidentFilter(c.Request.URL.Query())
	if err != nil {
		s.writeError(c, err)
		return
	}
	bound := t.Bound()
	f.BBox = clip(f.BBox, bound)
	f.Page = domain.Page{Limit: domain.MaxLimit}
	ctx := c.Request.Context()
	incidents := []geo.TileFeature{}
	if len(f.BBox) > 0 {
		page, err := s.incidents.FindIncidents(ctx, f)
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, h := range page.Items {
			incidents = append(incidents, geo.TileFeature{ID: h.ID, Point: h.Location, Properties: map[string]any{
				"type": string(h.Type), "title": h.Title, "severity": h.Severity, "status": string(h.Status),
				"occurred_at": h.OccurredAt.Format(time.RFC3339), "country": h.Country,
			}})
		}
	}
	facs, err := s.facilities.FindFacilities(ctx, domain.FacilityFilter{BBox: []orb.Bound{bound}, Page: domain.Page{Limit: domain.MaxLimit}})
	if err != nil {
		s.writeError(c, err)
		return
	}
	facilities := []geo.TileFeature{}
	for _, h := range facs.Items {
		facilities = append(facilities, geo.TileFeature{ID: h.ID, Point: h.Location, Properties: map[string]any{
			"name": h.Name, "kind": string(h.Kind), "posture": string(h.Posture), "alert_radius_m": h.AlertRadiusM,
		}})
	}
	data, err := geo.EncodeTile(t, map[string][]geo.TileFeature{"incidents": incidents, "facilities": facilities})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/vnd.mapbox-vector-tile", data)
}

// clip intersects a bbox filter (nil: everywhere) with a tile's bound.
func clip(bbox []orb.Bound, tile orb.Bound) []orb.Bound {
	if bbox == nil {
		return []orb.Bound{tile}
	}
	var out []orb.Bound
	for _, b := range bbox {
		if b.Intersects(tile) {
			out = append(out, orb.Bound{
				Min: orb.Point{max(b.Min[0], tile.Min[0]), max(b.Min[1], tile.Min[1])},
				Max: orb.Point{min(b.Max[0], tile.Max[0]), min(b.Max[1], tile.Max[1])},
			})
		}
	}
	return out
}
