package api

import (
	"bytes"
	"compress/gzip"
	"html/template"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/web"
)

// mapCSP is the Content-Security-Policy of the map, its assets and the HTML
// pages that draw a map (items, one item): scripts,
// styles, the worker and every fetch come from postwatch only. MapLibre
// runs its worker from its own module URL (worker-src 'self'); it sets
// element styles through the CSSOM, which style-src does not govern, so no
// 'unsafe-inline' is needed. data: is the page's empty icon.
const mapCSP = "default-src 'self'; script-src 'self'; worker-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// mapIndex is the page itself, web/src/index.html, a template only for the
// asset directory and the links it names, which are the same on every
// request: it is rendered once. The asset path is relative, so the page
// works behind a proxy that serves postwatch under a path prefix.
var mapIndex = func() []byte {
	var buf bytes.Buffer
	data := struct{ Assets, Home string }{Assets: strings.TrimPrefix(mapAssetsPath, "/"), Home: "./?f=html"}
	template.Must(template.New("map").Parse(string(web.Assets["index.html"].Body))).Execute(&buf, data)
	return buf.Bytes()
}()

// mapPage serves GET /map. It is public, so that the sign-in form can show
// without a token; every request the page then makes for data carries one.
// The query string (the items parameters and bbox) is read by the page.
func (s *Server) mapPage(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", mapCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page names this build's assets; revalidating it is one
	// conditional request, and a new build is seen at once.
	h.Set("Cache-Control", "no-cache")
	tag := `"map-` + web.Version + `"`
	h.Set("ETag", tag)
	if noneMatch(c.GetHeader("If-None-Match"), tag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Status(http.StatusOK)
	c.Writer.Write(mapIndex)
}

// mapAsset serves GET /map/assets/{version}/{file}. The version in the path
// is the content hash of the build (web.Version), so an asset never changes
// under its URL and may be cached for a year; a URL of another build is a
// 404 rather than different content under the same name.
func (s *Server) mapAsset(c *gin.Context) {
	a, ok := web.Assets[c.Param("file")]
	if !ok || c.Param("version") != web.Version || a.Name == "index.html" {
		s.writeError(c, domain.Errorf(domain.ENOTFOUND, "no map asset %s", c.Request.URL.Path))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", mapCSP)
	h.Set("Content-Type", a.ContentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Vary", "Accept-Encoding")
	tag := `"` + web.Version + `-` + a.Name + `"`
	h.Set("ETag", tag)
	if noneMatch(c.GetHeader("If-None-Match"), tag) {
		c.Status(http.StatusNotModified)
		return
	}
	body := a.Body
	if acceptsGzip(c.GetHeader("Accept-Encoding")) {
		if z := gzipped(a); z != nil {
			h.Set("Content-Encoding", "gzip")
			body = z
		}
	}
	c.Status(http.StatusOK)
	c.Writer.Write(body)
}

// gzipCache holds each asset compressed, made on first request: MapLibre's
// 1.6 MB of JavaScript travel as about 450 KB.
var gzipCache sync.Map // name → []byte (nil: not worth compressing)

func gzipped(a web.Asset) []byte {
	if z, ok := gzipCache.Load(a.Name); ok {
		return z.([]byte)
	}
	var z []byte
	if len(a.Body) >= 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		zw.Write(a.Body)
		zw.Close()
		if buf.Len() < len(a.Body) {
			z = buf.Bytes()
		}
	}
	gzipCache.Store(a.Name, z)
	return z
}
