package api

import (
	"maps"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/geo"
)

// link is an OGC/RFC 8288 web link.
type link struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

// conformsTo lists the OGC conformance classes postwatch implements.
var conformsTo = []string{
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
	"http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
	"http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
	"http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
	"http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
	"http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
	"http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
	"http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
	"http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
	"http://www.opengis.net/spec/cql2/1.0/conf/array-functions",
}

// selfURL is the request's absolute URL.
func selfURL(c *gin.Context) string {
	u := baseURL(c) + c.Request.URL.Path
	if q := c.Request.URL.RawQuery; q != "" {
		u += "?" + q
	}
	return u
}

// withParam returns u with a query parameter set, or removed when value
// is empty.
func withParam(u, name, value string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := parsed.Query()
	if value == "" {
		q.Del(name)
	} else {
		q.Set(name, value)
	}
	parsed.RawQuery = q.Encode()
	return parsed.String()
}

// pageURL is the request's absolute URL with its query parsed once: a page
// builds four or five links from it (self, alternate, next, the Link
// header), and withParam would parse the whole URL again for each.
type pageURL struct {
	raw string
	u   *url.URL
	q   url.Values
}

func newPageURL(c *gin.Context) pageURL { return parsePageURL(selfURL(c)) }

func parsePageURL(raw string) pageURL {
	p := pageURL{raw: raw}
	if u, err := url.Parse(raw); err == nil {
		p.u, p.q = u, u.Query()
	}
	return p
}

// with returns the URL with the parameters of pairs (name, value, name,
// value…) set in turn, one whose value is empty removed; the same string
// withParam would give applied pair after pair.
func (p pageURL) with(pairs ...string) string {
	if p.u == nil {
		return p.raw
	}
	// A shallow copy suffices: Set and Del replace or drop a key's slice,
	// never write into the one p.q holds.
	q := maps.Clone(p.q)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			q.Del(pairs[i])
		} else {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	u := *p.u
	u.RawQuery = q.Encode()
	return u.String()
}

// linkTo builds an absolute link to path, carrying the caller's
// access_token when it came in the query, so map clients can follow it.
func linkTo(c *gin.Context, path string) string {
	u := baseURL(c) + path
	if t := c.Query("access_token"); t != "" {
		u = withParam(u, "access_token", t)
	}
	return u
}

func (s *Server) landing(c *gin.Context) {
	f, err := negotiate(c, []string{"json", "html"})
	if err != nil {
		s.writeError(c, err)
		return
	}
	body := gin.H{
		"title":       "postwatch",
		"description": "Threats against diplomatic posts: incidents, facilities and the actors behind them, as OGC API – Features.",
		"links": []link{
			{Href: linkTo(c, "/"), Rel: "self", Type: "application/json", Title: "this document"},
			{Href: linkTo(c, "/?f=html"), Rel: "alternate", Type: "text/html", Title: "this document as HTML"},
			{Href: linkTo(c, "/openapi.json"), Rel: "service-desc", Type: "application/vnd.oai.openapi+json;version=3.0", Title: "the API definition"},
			{Href: linkTo(c, "/api.html"), Rel: "service-doc", Type: "text/html", Title: "the API documentation"},
			{Href: linkTo(c, "/conformance"), Rel: "conformance", Type: "application/json", Title: "conformance classes"},
			{Href: linkTo(c, "/collections"), Rel: "data", Type: "application/json", Title: "collections"},
		},
	}
	if f == "html" {
		s.landingPage(c)
		return
	}
	c.JSON(http.StatusOK, body)
}

func (s *Server) conformance(c *gin.Context) {
	f, err := negotiate(c, []string{"json", "html"})
	if err != nil {
		s.writeError(c, err)
		return
	}
	if f == "html" {
		s.conformancePage(c)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conformsTo": conformsTo})
}

// collectionDoc is the OGC description of a collection.
type collectionDoc struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	ItemType    string    `json:"itemType"`
	Extent      extentDoc `json:"extent"`
	Links       []link    `json:"links"`
}

type extentDoc struct {
	Spatial  spatialExtent   `json:"spatial"`
	Temporal *temporalExtent `json:"temporal,omitempty"`
}

type spatialExtent struct {
	BBox [][4]float64 `json:"bbox"`
	CRS  string       `json:"crs"`
}

type temporalExtent struct {
	Interval [][2]*string `json:"interval"`
	TRS      string       `json:"trs"`
}

const crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

func (s *Server) collectionDoc(c *gin.Context, col *collection) (*collectionDoc, error) {
	e, err := col.extent(c.Request.Context())
	if err != nil {
		return nil, err
	}
	bbox := [4]float64{-180, -90, 180, 90}
	if e.BBox != nil {
		// Rounded outwards, so that it still contains every feature.
		bbox = [4]float64{geo.Floor(e.BBox[0]), geo.Floor(e.BBox[1]), geo.Ceil(e.BBox[2]), geo.Ceil(e.BBox[3])}
	}
	self := linkTo(c, "/collections/"+col.id)
	doc := &collectionDoc{
		ID: col.id, Title: col.title, Description: col.description, ItemType: "feature",
		Extent: extentDoc{Spatial: spatialExtent{BBox: [][4]float64{bbox}, CRS: crs84}},
		Links: []link{
			{Href: self, Rel: "self", Type: "application/json", Title: col.title},
			{Href: withParam(self, "f", "html"), Rel: "alternate", Type: "text/html", Title: col.title + " as HTML"},
			{Href: linkTo(c, "/collections/"+col.id+"/items"), Rel: "items", Type: geoJSONType, Title: col.title + " as GeoJSON"},
			{Href: linkTo(c, "/collections/"+col.id+"/items?f=html"), Rel: "items", Type: "text/html", Title: col.title + " as HTML"},
			{Href: linkTo(c, "/collections/"+col.id+"/queryables"), Rel: "http://www.opengis.net/def/rel/ogc/1.0/queryables", Type: "application/schema+json", Title: "properties filter= may test"},
		},
	}
	if col.id == "incidents" {
		var start, end *string
		if e.Start != nil {
			v := e.Start.Format(time.RFC3339)
			start = &v
		}
		if e.End != nil {
			v := e.End.Format(time.RFC3339)
			end = &v
		}
		doc.Extent.Temporal = &temporalExtent{Interval: [][2]*string{{start, end}}, TRS: "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
	}
	return doc, nil
}

func (s *Server) collections(c *gin.Context) {
	f, err := negotiate(c, []string{"json", "html"})
	if err != nil {
		s.writeError(c, err)
		return
	}
	docs := []*collectionDoc{}
	for _, col := range []*collection{s.incidentCol, s.facilityCol} {
		doc, err := s.collectionDoc(c, col)
		if err != nil {
			s.writeError(c, err)
			return
		}
		docs = append(docs, doc)
	}
	if f == "html" {
		s.collectionsPage(c, docs)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"collections": docs,
		"links": []link{
			{Href: linkTo(c, "/collections"), Rel: "self", Type: "application/json"},
			{Href: linkTo(c, "/collections?f=html"), Rel: "alternate", Type: "text/html"},
		},
	})
}

func (col *collection) describeCollection(c *gin.Context) {
	f, err := negotiate(c, []string{"json", "html"})
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	doc, err := col.s.collectionDoc(c, col)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	if f == "html" {
		col.s.collectionsPage(c, []*collectionDoc{doc})
		return
	}
	c.JSON(http.StatusOK, doc)
}
