package api

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/web"
)

// templateFiles are the HTML pages a browser gets instead of JSON: one
// layout and one file per page, rendered by html/template, which escapes
// every value for where it lands (text, attribute, URL).
//
//go:embed templates/*.html
var templateFiles embed.FS

// pages maps a page name (the file name without .html) to its template:
// the layout with that page's "content".
var pages = func() map[string]*template.Template {
	layout := template.Must(template.ParseFS(templateFiles, "templates/layout.html"))
	out := map[string]*template.Template{}
	for _, name := range []string{"landing", "conformance", "collections", "items", "item", "apidocs"} {
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFiles, "templates/"+name+".html"))
	}
	return out
}()

// mapped are the pages that draw their features on a map (pagemap.js,
// reading the page's data block): they load MapLibre from the map's
// assets, under the map's CSP.
var mapped = map[string]bool{"items": true, "item": true}

// page is what the layout shows around a page's content.
type page struct {
	Title                       string
	Home, Map, Collections, API string
	CSS                         string
	// MapAssets is the map's asset directory on the pages that are mapped.
	MapAssets string
	Body      any
}

// renderPage writes a page. Rendering is linear in the data and stops
// when the request's context ends (its deadline, or a client that hung
// up): before anything was sent that is the usual problem+json; after, the
// connection is cut, so a truncated page is never mistaken for a whole one.
func (s *Server) renderPage(c *gin.Context, name, title string, body any) {
	ctx := c.Request.Context()
	if err := ctx.Err(); err != nil {
		s.abandonPage(c, err)
		return
	}
	p := page{
		Title: title, Body: body,
		Home: href(c, "/?f=html"), Map: href(c, "/map"), Collections: href(c, "/collections?f=html"), API: href(c, "/api.html"),
		CSS: baseURL(c) + mapAssetsPath + "/pages.css",
	}
	if mapped[name] {
		p.MapAssets = baseURL(c) + mapAssetsPath
		c.Header("Content-Security-Policy", mapCSP)
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	cw := &ctxWriter{ctx: ctx, w: c.Writer}
	bw := bufio.NewWriterSize(cw, 32<<10)
	err := pages[name].ExecuteTemplate(bw, "layout", p)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		return
	}
	if !c.Writer.Written() {
		s.abandonPage(c, err)
		return
	}
	if ctx.Err() == nil {
		s.log.Error("render page", "page", name, "err", err, "request_id", requestID(c))
	}
	panic(http.ErrAbortHandler)
}

// abandonPage answers a page that could not be rendered: a client that
// hung up gets nothing (there is no one to tell, and it is not a server
// error); a deadline or a template error is the usual problem+json.
func (s *Server) abandonPage(c *gin.Context, err error) {
	if errors.Is(c.Request.Context().Err(), context.Canceled) {
		c.Abort()
		return
	}
	s.writeError(c, err)
}

// ctxWriter fails every write once ctx is done, which stops a template
// mid-page.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w *ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// href is a link for an HTML page, carrying the caller's access_token so a
// browser that authenticates by query string can follow it.
func href(c *gin.Context, path string) string { return linkTo(c, path) }

func (s *Server) landingPage(c *gin.Context) {
	s.renderPage(c, "landing", "postwatch", struct {
		Map, Collections, Incidents, Facilities, API, OpenAPI, Conformance string
	}{
		Map: href(c, "/map"), Collections: href(c, "/collections?f=html"),
		Incidents: href(c, "/collections/incidents/items?f=html"), Facilities: href(c, "/collections/facilities/items?f=html"),
		API: href(c, "/api.html"), OpenAPI: href(c, "/openapi.json"), Conformance: href(c, "/conformance?f=html"),
	})
}

func (s *Server) conformancePage(c *gin.Context) {
	s.renderPage(c, "conformance", "Conformance", conformsTo)
}

func (s *Server) collectionsPage(c *gin.Context, docs []*collectionDoc) {
	type row struct {
		Items, Map, Title, Description string
		BBox                           [][4]float64
	}
	rows := make([]row, len(docs))
	for i, d := range docs {
		rows[i] = row{Items: href(c, "/collections/"+d.ID+"/items?f=html"), Map: href(c, "/map"),
			Title: d.Title, Description: d.Description, BBox: d.Extent.Spatial.BBox}
	}
	s.renderPage(c, "collections", "Collections", rows)
}

// mapParams are the query parameters of an items page that the map takes
// too, so "Show on the map" opens the same selection.
var mapParams = []string{"type", "actor", "attribution", "datetime", "severity_min", "q", "facility", "bbox"}

// mapLink is the map's URL with the items parameters of q it understands.
func mapLink(c *gin.Context, q url.Values) string {
	v := url.Values{}
	for _, name := range mapParams {
		if x := q.Get(name); x != "" {
			v.Set(name, x)
		}
	}
	if len(v) == 0 {
		return href(c, "/map")
	}
	return href(c, "/map?"+v.Encode())
}

// featuresBlock is fs as a GeoJSON FeatureCollection for a page's data
// block, <script type="application/geo+json" id="features">, which
// html/template leaves as it is (text of no script language): so <, > and
// & are written as JSON escapes (\u003c…), and no text of a record can end
// the element or pass for markup.
func featuresBlock(fs []feature) (template.HTML, error) {
	b := []byte(`{"type":"FeatureCollection","features":[`)
	for i := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendFeature(b, &fs[i]); err != nil {
			return "", err
		}
	}
	b = append(b, "]}"...)
	var out bytes.Buffer
	out.Grow(len(b) + len(b)/16)
	json.HTMLEscape(&out, b)
	return template.HTML(out.String()), nil
}

// itemsPage shows a page of features on a map and in a table.
func (s *Server) itemsPage(c *gin.Context, col *collection, fp *featurePage) {
	type row struct {
		ID           int64
		Href         string
		Name, Detail string
	}
	data := struct {
		Matched   int
		Map, Next string
		Rows      []row
		Features  template.HTML
	}{Matched: fp.matched, Map: href(c, "/map"), Rows: make([]row, len(fp.features))}
	if col.id == "incidents" {
		data.Map = mapLink(c, c.Request.URL.Query())
	}
	if fp.next != nil {
		next := withParam(withParam(selfURL(c), "cursor", EncodeCursor(fp.next)), "offset", "")
		data.Next = withParam(next, "f", "html")
	}
	// One link prefix for every row: linkTo per row would parse a URL each
	// time, for the same base and token.
	base := baseURL(c) + "/collections/" + col.id + "/items/"
	suffix := "?f=html"
	if t := c.Query("access_token"); t != "" {
		suffix += "&access_token=" + url.QueryEscape(t)
	}
	for i := range fp.features {
		f := &fp.features[i]
		name, detail := describeFeature(f)
		data.Rows[i] = row{ID: f.ID, Href: base + strconv.FormatInt(f.ID, 10) + suffix, Name: name, Detail: detail}
		// A click on the feature's point opens the same page as its row.
		f.Links = []link{{Href: data.Rows[i].Href, Rel: "alternate", Type: "text/html"}}
	}
	var err error
	if data.Features, err = featuresBlock(fp.features); err != nil {
		s.writeError(c, err)
		return
	}
	s.renderPage(c, "items", col.title, data)
}

func (s *Server) itemPage(c *gin.Context, col *collection, f *feature) {
	name, detail := describeFeature(f)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		s.writeError(c, err)
		return
	}
	m := href(c, "/map")
	if col.id == "incidents" {
		// A box of about 2 km around the incident.
		lon, lat := f.Geometry.Coordinates[0], f.Geometry.Coordinates[1]
		m = mapLink(c, url.Values{"bbox": {fmt.Sprintf("%.5f,%.5f,%.5f,%.5f", lon-0.01, lat-0.01, lon+0.01, lat+0.01)}})
	}
	points, err := featuresBlock([]feature{*f})
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.renderPage(c, "item", name, struct {
		Detail, Map, JSON string
		Features          template.HTML
	}{detail, m, string(b), points})
}

func describeFeature(f *feature) (string, string) {
	switch p := f.Properties.(type) {
	case *incidentProps:
		detail := fmt.Sprintf("%s · severity %d · %s · %s", p.Type, p.Severity, p.Status, p.OccurredAt.Format("2006-01-02 15:04Z"))
		if p.Attribution != nil {
			detail += " · attributed: " + chainText(p.Attribution)
		}
		return p.Title, detail
	case *facilityProps:
		return p.Name, fmt.Sprintf("%s · %s, %s · posture %s", p.Kind, p.City, p.Country, p.Posture)
	}
	return strconv.FormatInt(f.ID, 10), ""
}

// apiDocsPage lists every operation of the OpenAPI document.
func (s *Server) apiDocsPage(c *gin.Context) {
	if _, err := formatParam(c, []string{"html"}); err != nil {
		s.writeError(c, err)
		return
	}
	var doc struct {
		Info struct {
			Description string `json:"description"`
		} `json:"info"`
		Paths map[string]map[string]struct {
			Summary string `json:"summary"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(s.openapi.raw, &doc); err != nil {
		s.writeError(c, err)
		return
	}
	type op struct{ Method, Path, Summary string }
	var ops []op
	for _, o := range sortedOperations(s.openapi) {
		ops = append(ops, op{o.method, o.path, doc.Paths[o.path][lower(o.method)].Summary})
	}
	s.renderPage(c, "apidocs", "postwatch API", struct {
		Description, OpenAPI string
		Operations           []op
	}{doc.Info.Description, href(c, "/openapi.json"), ops})
}

// mapAssetsPath is where this build's map assets are served.
var mapAssetsPath = "/map/assets/" + web.Version
