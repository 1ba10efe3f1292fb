package api

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// pages renders the HTML views a browser gets instead of JSON. They need
// nothing from the network: the map is an inline SVG.
var pages = template.Must(template.New("layout").Funcs(template.FuncMap{
	"json": func(v any) string { b, _ := json.MarshalIndent(v, "", "  "); return string(b) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · postwatch</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#14213d;color:#fff;padding:.6rem 1.2rem}header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:1rem 1.2rem;max-width:1200px}table{border-collapse:collapse;width:100%;background:#fff}
td,th{border:1px solid #d5d9e0;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#eef1f5}
pre{background:#fff;border:1px solid #d5d9e0;padding:.6rem;overflow:auto}svg{background:#dde7f0;border:1px solid #b8c4d2}
.sev1{fill:#4c9a2a}.sev2{fill:#c9b500}.sev3{fill:#e08a00}.sev4{fill:#d1495b}.sev5{fill:#6a040f}.fac{fill:#14213d}
</style></head><body><header><a href="{{.Home}}">postwatch</a> · <a href="{{.Collections}}">collections</a> · <a href="{{.API}}">API</a></header>
<main><h1>{{.Title}}</h1>{{.Body}}</main></body></html>`))

type page struct {
	Title                  string
	Body                   template.HTML
	Home, Collections, API string
}

func (s *Server) renderPage(c *gin.Context, title string, body template.HTML) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	p := page{Title: title, Body: body, Home: href(c, "/?f=html"), Collections: href(c, "/collections?f=html"), API: href(c, "/api.html")}
	if err := pages.Execute(c.Writer, p); err != nil {
		s.log.Error("render page", "err", err)
	}
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// href is a link for an HTML page, carrying the caller's access_token so a
// browser that authenticates by query string can follow it.
func href(c *gin.Context, path string) string { return linkTo(c, path) }

func (s *Server) landingPage(c *gin.Context) {
	s.renderPage(c, "postwatch", template.HTML(fmt.Sprintf(`<p>Threats against diplomatic posts: incidents, facilities and the actors behind them,
served as OGC API – Features.</p><ul>
<li><a href="%s">Collections</a></li>
<li><a href="%s">Incidents on a map</a></li>
<li><a href="%s">Facilities on a map</a></li>
<li><a href="%s">API documentation</a> (<a href="%s">OpenAPI</a>)</li>
<li><a href="%s">Conformance classes</a></li></ul>`,
		esc(href(c, "/collections?f=html")), esc(href(c, "/collections/incidents/items?f=html")),
		esc(href(c, "/collections/facilities/items?f=html")), esc(href(c, "/api.html")),
		esc(href(c, "/openapi.json")), esc(href(c, "/conformance?f=html")))))
}

func (s *Server) conformancePage(c *gin.Context) {
	body := "<ul>"
	for _, cc := range conformsTo {
		body += "<li>" + esc(cc) + "</li>"
	}
	s.renderPage(c, "Conformance", template.HTML(body+"</ul>"))
}

func (s *Server) collectionsPage(c *gin.Context, docs []*collectionDoc) {
	body := "<table><tr><th>collection</th><th>description</th><th>extent</th></tr>"
	for _, d := range docs {
		body += fmt.Sprintf(`<tr><td><a href="%s">%s</a></td><td>%s</td><td>%v</td></tr>`,
			esc(href(c, "/collections/"+d.ID+"/items?f=html")), esc(d.Title), esc(d.Description), d.Extent.Spatial.BBox)
	}
	s.renderPage(c, "Collections", template.HTML(body+"</table>"))
}

// itemsPage shows a page of features on an SVG map and in a table.
func (s *Server) itemsPage(c *gin.Context, col *collection, fp *featurePage) {
	body := svgMap(fp.features)
	if fp.matched >= 0 {
		body += fmt.Sprintf("<p>%d of %d features.", len(fp.features), fp.matched)
	} else {
		body += fmt.Sprintf("<p>%d features of many.", len(fp.features))
	}
	if fp.next != nil {
		next := withParam(withParam(selfURL(c), "cursor", EncodeCursor(fp.next)), "offset", "")
		body += ` <a rel="next" href="` + esc(withParam(next, "f", "html")) + `">Next page</a>`
	}
	body += "</p><table><tr><th>id</th><th>feature</th><th>properties</th></tr>"
	for _, f := range fp.features {
		name, detail := describeFeature(&f)
		body += fmt.Sprintf(`<tr><td><a href="%s">%d</a></td><td>%s</td><td>%s</td></tr>`,
			esc(href(c, fmt.Sprintf("/collections/%s/items/%d?f=html", col.id, f.ID))), f.ID, esc(name), esc(detail))
	}
	s.renderPage(c, col.title, template.HTML(body+"</table>"))
}

func (s *Server) itemPage(c *gin.Context, col *collection, f *feature) {
	name, _ := describeFeature(f)
	b, _ := json.MarshalIndent(f, "", "  ")
	s.renderPage(c, name, template.HTML(svgMap([]feature{*f})+"<pre>"+esc(string(b))+"</pre>"))
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

// svgMap plots features in an equirectangular frame around their extent.
func svgMap(fs []feature) string {
	const w, h = 900.0, 450.0
	if len(fs) == 0 {
		return "<p>No features.</p>"
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, f := range fs {
		x, y := f.Geometry.Coordinates[0], f.Geometry.Coordinates[1]
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
		minY, maxY = math.Min(minY, y), math.Max(maxY, y)
	}
	pad := math.Max(math.Max(maxX-minX, maxY-minY)*0.1, 0.05)
	minX, maxX, minY, maxY = minX-pad, maxX+pad, minY-pad, maxY+pad
	scale := math.Min(w/(maxX-minX), h/(maxY-minY))
	out := fmt.Sprintf(`<svg role="img" aria-label="map" width="%g" height="%g" viewBox="0 0 %g %g">`, w, h, w, h)
	for _, f := range fs {
		x := (f.Geometry.Coordinates[0] - minX) * scale
		y := h - (f.Geometry.Coordinates[1]-minY)*scale
		class := "fac"
		if p, ok := f.Properties.(*incidentProps); ok {
			class = "sev" + strconv.Itoa(p.Severity)
		}
		name, _ := describeFeature(&f)
		out += fmt.Sprintf(`<circle class="%s" cx="%.1f" cy="%.1f" r="5"><title>%s</title></circle>`, class, x, y, esc(name))
	}
	return out + "</svg>"
}

// apiDocsPage lists every operation of the OpenAPI document.
func (s *Server) apiDocsPage(c *gin.Context) {
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
	body := "<p>" + esc(doc.Info.Description) + `</p><p>Machine-readable: <a href="` + esc(href(c, "/openapi.json")) + `">openapi.json</a>.</p>`
	body += "<table><tr><th>method</th><th>path</th><th>summary</th></tr>"
	for _, op := range sortedOperations(s.openapi) {
		body += fmt.Sprintf("<tr><td>%s</td><td><code>%s</code></td><td>%s</td></tr>",
			esc(op.method), esc(op.path), esc(doc.Paths[op.path][lower(op.method)].Summary))
	}
	s.renderPage(c, "postwatch API", template.HTML(body+"</table>"))
}
