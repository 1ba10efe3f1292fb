package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/klauspost/compress/gzip"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// tilePath is the gin route of tiles; its last parameter holds "{y}.mvt".
const tilePath = "/tiles/:z/:x/:y"

const (
	mvtContentType = "application/vnd.mapbox-vector-tile"
	// clusterMaxZoom is the deepest zoom whose tiles always hold clusters: a
	// z7 tile spans about 300 km, where single markers only pile up.
	clusterMaxZoom = 7
	// maxTilePoints is the most incidents a tile draws one by one. A map
	// library draws a few thousand symbols per tile before it stutters, and
	// at about 250 bytes per incident this keeps a tile near 500 KB; a tile
	// with more holds clusters instead.
	maxTilePoints = 2_000
	// maxTileBytes is the size no tile may exceed (CONTRACT.md §9): a tile
	// of single incidents that would is drawn with clusters instead.
	maxTileBytes = 500 << 10
)

// tile serves incidents and facilities of one web-mercator tile as a
// Mapbox Vector Tile 2.1 (CONTRACT.md §9): layer "incidents" under any
// items filter, clustered at z ≤ 7 and wherever the tile holds more than
// maxTilePoints matches, and layer "facilities". A tile with nothing to
// draw is a 204. The body is gzipped when Accept-Encoding allows it, and
// its strong ETag (a hash of the bytes sent) answers If-None-Match with a
// 304. With a tile cache, a tile already made at the store's current data
// version is sent as it was made.
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
	q := c.Request.URL.Query()
	f, err := ParseIncidentFilter(q)
	if err != nil {
		s.writeError(c, err)
		return
	}
	gz := acceptsGzip(c.GetHeader("Accept-Encoding"))
	var et *encodedTile
	if s.tiles != nil {
		et, err = s.tiles.get(c.Request.Context(), tileKey(z, x, y, q, gz), func(ctx context.Context, v domain.DataVersion) (*encodedTile, error) {
			return s.makeTile(ctx, t, f, gz, func(ctx context.Context, area []orb.Bound) (geo.TileLayer, error) {
				all, err := s.tiles.facilitiesOf(ctx, v, s.allFacilities)
				return facilityLayer(all, area), err
			})
		})
	} else {
		et, err = s.makeTile(c.Request.Context(), t, f, gz, s.tileFacilities)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeTile(c, et)
}

// makeTile encodes tile t under f, gzipped when gz is set, with its ETag;
// facilities gives the facilities layer of the tile's area.
func (s *Server) makeTile(ctx context.Context, t maptile.Tile, f domain.IncidentFilter, gz bool,
	facilities func(context.Context, []orb.Bound) (geo.TileLayer, error)) (*encodedTile, error) {
	area := geo.TileBounds(t)
	f.BBox = clip(f.BBox, area)
	clusters, incidents, err := s.tileIncidents(ctx, t, f)
	if err != nil {
		return nil, err
	}
	facs, err := facilities(ctx, area)
	if err != nil {
		return nil, err
	}
	data, err := geo.EncodeTile(t, []geo.TileLayer{incidents, facs})
	if err == nil && len(data) > maxTileBytes {
		data, err = geo.EncodeTile(t, []geo.TileLayer{clusters, facs})
	}
	// Facilities are never thinned: past the budget their names are cut
	// short, then left out (the feature's id finds the rest).
	for _, nameRunes := range []int{shortNameRunes, 0} {
		if err != nil || len(data) <= maxTileBytes {
			break
		}
		data, err = geo.EncodeTile(t, []geo.TileLayer{clusters, shortenNames(facs, nameRunes)})
	}
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return &encodedTile{}, nil
	}
	if gz {
		if data, err = gzipBytes(data); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256(data)
	return &encodedTile{body: data, gzip: gz, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}

// writeTile sends a tile, or 204 when it is empty, with Content-Encoding
// gzip when it is gzipped (the compression middleware leaves a body with a
// Content-Encoding alone) and its ETag. Tiles change with every write, so
// caches must revalidate each time (no-cache), which the ETag makes cheap.
func writeTile(c *gin.Context, t *encodedTile) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-cache")
	if len(t.body) == 0 {
		c.Status(http.StatusNoContent)
		return
	}
	h.Set("ETag", t.etag)
	if noneMatch(c.GetHeader("If-None-Match"), t.etag) {
		c.Status(http.StatusNotModified)
		return
	}
	if t.gzip {
		h.Set("Content-Encoding", "gzip")
	}
	c.Data(http.StatusOK, mvtContentType, t.body)
}

// tileIncidents is the incidents layer of t under f (whose BBox is already
// the tile's area) as clusters, and the layer to draw: the same clusters at
// z ≤ 7 or when the area holds more than maxTilePoints matches, else the
// incidents one by one. The clusters come first because their counts say
// how many the area holds without reading a row.
func (s *Server) tileIncidents(ctx context.Context, t maptile.Tile, f domain.IncidentFilter) (clusters, draw geo.TileLayer, err error) {
	clusters = geo.TileLayer{Name: "incidents"}
	if len(f.BBox) == 0 {
		return clusters, clusters, nil // the bbox filter misses the tile
	}
	zc := int(t.Z) + geo.ClusterCellShift
	found, err := s.incidents.ClusterIncidents(ctx, f, zc)
	if err != nil {
		return clusters, clusters, err
	}
	// In a fixed order, so that the same data makes the same bytes and the
	// same ETag.
	slices.SortFunc(found, func(a, b domain.IncidentCluster) int {
		return cmp.Or(cmp.Compare(a.Y, b.Y), cmp.Compare(a.X, b.X))
	})
	total := 0
	for _, cl := range found {
		total += cl.Count
		cell := maptile.New(cl.X, cl.Y, maptile.Zoom(zc))
		clusters.Features = append(clusters.Features, geo.TileFeature{Point: cl.Center, Cell: &cell, Properties: map[string]any{
			"cluster": true, "point_count": cl.Count, "max_severity": cl.MaxSeverity,
		}})
	}
	if int(t.Z) <= clusterMaxZoom || total > maxTilePoints {
		return clusters, clusters, nil
	}
	f.Page = domain.Page{Limit: maxTilePoints + 1}
	page, err := s.incidents.FindIncidents(ctx, f)
	if err != nil {
		return clusters, clusters, err
	}
	if len(page.Items) > maxTilePoints { // written since the clusters were counted
		return clusters, clusters, nil
	}
	draw = geo.TileLayer{Name: "incidents"}
	for _, h := range page.Items {
		id := h.ID
		draw.Features = append(draw.Features, geo.TileFeature{ID: &id, Point: h.Location, Properties: map[string]any{
			"id": h.ID, "type": string(h.Type), "title": h.Title, "severity": h.Severity, "status": string(h.Status),
			"occurred_at": h.OccurredAt.UTC().Format(time.RFC3339), "country": h.Country,
		}})
	}
	return clusters, draw, nil
}

// tileFacilities is the facilities layer of the tile's area: the first
// domain.MaxLimit facilities in it by id.
func (s *Server) tileFacilities(ctx context.Context, area []orb.Bound) (geo.TileLayer, error) {
	facs, err := s.facilities.FindFacilities(ctx, domain.FacilityFilter{BBox: area, Page: domain.Page{Limit: domain.MaxLimit}})
	if err != nil {
		return geo.TileLayer{}, err
	}
	return facilityLayer(facs.Items, area), nil
}

// allFacilities reads every live facility, by id, a page at a time.
func (s *Server) allFacilities(ctx context.Context) ([]domain.FacilityHit, error) {
	var all []domain.FacilityHit
	page := domain.Page{Limit: domain.MaxLimit}
	for {
		facs, err := s.facilities.FindFacilities(ctx, domain.FacilityFilter{Page: page})
		if err != nil {
			return nil, err
		}
		all = append(all, facs.Items...)
		if facs.Next == nil {
			return all, nil
		}
		page.Cursor = facs.Next
	}
}

// facilityLayer is the facilities layer of the first domain.MaxLimit of
// facs (by id) that lie in area, as FindFacilities' bbox filter selects
// them (edges included).
func facilityLayer(facs []domain.FacilityHit, area []orb.Bound) geo.TileLayer {
	layer := geo.TileLayer{Name: "facilities"}
	for _, h := range facs {
		if len(layer.Features) == domain.MaxLimit {
			break
		}
		if !slices.ContainsFunc(area, func(b orb.Bound) bool { return b.Contains(h.Location) }) {
			continue
		}
		id := h.ID
		layer.Features = append(layer.Features, geo.TileFeature{ID: &id, Point: h.Location, Properties: map[string]any{
			"id": h.ID, "name": h.Name, "kind": string(h.Kind), "posture": string(h.Posture), "alert_radius_m": h.AlertRadiusM,
		}})
	}
	return layer
}

// shortNameRunes is how much of a facility's name a tile over budget keeps.
const shortNameRunes = 24

// shortenNames is a copy of a facilities layer whose names keep at most
// runes characters (an ellipsis marks the cut); with 0 they are left out.
func shortenNames(layer geo.TileLayer, runes int) geo.TileLayer {
	out := geo.TileLayer{Name: layer.Name, Features: make([]geo.TileFeature, len(layer.Features))}
	for i, f := range layer.Features {
		props := maps.Clone(f.Properties)
		name, _ := props["name"].(string)
		switch {
		case runes == 0:
			delete(props, "name")
		case utf8.RuneCountInString(name) > runes:
			props["name"] = string([]rune(name)[:runes-1]) + "…"
		}
		f.Properties = props
		out.Features[i] = f
	}
	return out
}

// clip intersects a bbox filter (nil: everywhere) with a tile's area.
func clip(bbox []orb.Bound, area []orb.Bound) []orb.Bound {
	if bbox == nil {
		return area
	}
	var out []orb.Bound
	for _, a := range area {
		for _, b := range bbox {
			if b.Intersects(a) {
				out = append(out, orb.Bound{
					Min: orb.Point{max(b.Min[0], a.Min[0]), max(b.Min[1], a.Min[1])},
					Max: orb.Point{min(b.Max[0], a.Max[0]), min(b.Max[1], a.Max[1])},
				})
			}
		}
	}
	return out
}

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipBytes compresses data at gzip's default level.
func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data) / 2)
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// acceptsGzip reports whether an Accept-Encoding header (RFC 9110 §12.5.3)
// admits gzip: named (or as x-gzip) with a non-zero weight, or covered by
// "*" with one when not named at all.
func acceptsGzip(header string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if w, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = w
			}
		}
		switch name {
		case "gzip", "x-gzip":
			return q > 0
		case "*":
			star = q > 0
		}
	}
	return star
}

// noneMatch reports whether an If-None-Match header (RFC 9110 §13.1.2)
// matches etag: "*", or a listed tag equal to it under weak comparison.
func noneMatch(header, etag string) bool {
	tags, any := parseETags(header)
	return any || slices.ContainsFunc(tags, func(t entityTag) bool { return t.opaque == strings.TrimPrefix(etag, "W/") })
}

// tileJSONPath is the route of the TileJSON document of the tiles.
const tileJSONPath = "/tiles.json"

// tileLayers are the vector_layers of TileJSON: each layer's fields with
// their type and meaning, as TileJSON 3.0.0 §3.13 asks.
var tileLayers = []gin.H{
	{"id": "incidents", "minzoom": 0, "maxzoom": geo.MaxTileZoom,
		"description": fmt.Sprintf("Incidents matching the filters: clusters at zoom %d and below and wherever a tile holds more than %d, single incidents elsewhere", clusterMaxZoom, maxTilePoints),
		"fields": gin.H{
			"id": "Number: the incident's id (also the feature id)", "type": "String: incident type", "title": "String",
			"severity": "Number: 1 to 5", "status": "String", "occurred_at": "String: RFC 3339 time", "country": "String: ISO 3166-1 alpha-2",
			"cluster": "Boolean: true on a cluster", "point_count": "Number: incidents in the cluster",
			"max_severity": "Number: highest severity in the cluster",
		}},
	{"id": "facilities", "minzoom": 0, "maxzoom": geo.MaxTileZoom,
		"description": "Every facility, whatever the filters",
		"fields": gin.H{
			"id": "Number: the facility's id (also the feature id)", "name": "String", "kind": "String",
			"posture": "String", "alert_radius_m": "Number: meters",
		}},
}

// webMercatorLat is the latitude web-mercator tiles end at.
const webMercatorLat = 85.0511287798066

// tileJSON describes the tiles under the request's filters as TileJSON
// 3.0.0: a map library given this URL needs nothing else. The tiles URL
// carries the same query (filters and access_token); bounds is the extent
// of incidents and facilities, within the bbox filter when it is one box.
func (s *Server) tileJSON(c *gin.Context) {
	q := c.Request.URL.Query()
	f, err := ParseIncidentFilter(q)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	bounds := [4]float64{-180, -webMercatorLat, 180, webMercatorLat}
	var union *orb.Bound
	for _, extent := range []func(context.Context) (*domain.Extent, error){s.incidents.IncidentExtent, s.facilities.FacilityExtent} {
		e, err := extent(ctx)
		if err != nil {
			s.writeError(c, err)
			return
		}
		if e != nil && e.BBox != nil {
			b := orb.Bound{Min: orb.Point{e.BBox[0], e.BBox[1]}, Max: orb.Point{e.BBox[2], e.BBox[3]}}
			if union != nil {
				b = b.Union(*union)
			}
			union = &b
		}
	}
	if union != nil && len(f.BBox) == 1 && f.BBox[0].Intersects(*union) {
		b := clip(f.BBox, []orb.Bound{*union})[0]
		union = &b
	}
	if union != nil {
		// At most 7 decimals, rounded outwards, as every coordinate
		// postwatch writes (an extent read from the R*Tree and padded
		// came out as 60.992000000000004).
		bounds = [4]float64{geo.Floor(union.Min[0]), max(geo.Floor(union.Min[1]), -webMercatorLat),
			geo.Ceil(union.Max[0]), min(geo.Ceil(union.Max[1]), webMercatorLat)}
	}
	tiles := baseURL(c) + "/tiles/{z}/{x}/{y}.mvt"
	if len(q) > 0 {
		tiles += "?" + q.Encode()
	}
	c.JSON(http.StatusOK, gin.H{
		"tilejson": "3.0.0", "name": "postwatch", "scheme": "xyz",
		"tiles": []string{tiles}, "minzoom": 0, "maxzoom": geo.MaxTileZoom,
		"bounds": bounds, "vector_layers": tileLayers,
	})
}
