package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

// collection binds the OGC items handlers to one kind of feature. The
// handlers are the same for incidents and facilities; the functions here
// are where the two differ.
type collection struct {
	s           *Server
	id          string
	title       string
	description string
	formats     []string // item list formats beyond json/geojson
	list        func(ctx context.Context, q map[string][]string) (*featurePage, error)
	get         func(ctx context.Context, id int64) (*feature, error)
	decode      func(body []byte) (any, error)
	create      func(ctx context.Context, rec any) (*feature, error)
	replace     func(ctx context.Context, id int64, rec any, ifVersion int) (*feature, error)
	delete      func(ctx context.Context, id int64, ifVersion int) error
	history     func(ctx context.Context, id int64) ([]historyEntry, error)
	extent      func(ctx context.Context) (*domain.Extent, error)
	writeCSV    func(w http.ResponseWriter, page *featurePage)
	queryables  []domain.Queryable
	// properties are the names properties= may select.
	properties []string
}

// featurePage is a page of features ready to render.
type featurePage struct {
	features []feature
	matched  int
	next     *domain.Cursor
	// chained: the features carry their attribution chains (CSV adds a column).
	chained bool
}

type historyEntry struct {
	Version   int       `json:"version"`
	Op        string    `json:"op"`
	ChangedAt time.Time `json:"changed_at"`
	ChangedBy string    `json:"changed_by"`
	Feature   feature   `json:"feature"`
}

func historyEntries[T any](vs []domain.Version[T], toFeature func(*T) feature) []historyEntry {
	out := make([]historyEntry, len(vs))
	for i := range vs {
		out[i] = historyEntry{Version: vs[i].Version, Op: vs[i].Op, ChangedAt: vs[i].ChangedAt,
			ChangedBy: vs[i].ChangedBy, Feature: toFeature(&vs[i].Record)}
	}
	return out
}

const geoJSONType = "application/geo+json"

var featureBodyTypes = []string{"application/geo+json", "application/json"}

// pageFormats are the formats of a page of features besides GeoJSON.
func (col *collection) pageFormats() []string { return append([]string{"html"}, col.formats...) }

// itemFormats are the formats of one feature besides GeoJSON: HTML, and
// STIX where the collection's pages offer it (CSV is a table of many).
func (col *collection) itemFormats() []string {
	if slices.Contains(col.formats, "stix") {
		return []string{"html", "stix"}
	}
	return []string{"html"}
}

// formatLinks are the media type and title word of each non-JSON format
// in a link.
var formatLinks = map[string]struct{ mediaType, name string }{
	"html": {"text/html", "HTML"},
	"csv":  {"text/csv", "CSV"},
	"stix": {stixContentType, "STIX 2.1"},
}

// alternateLinks link to the resource at u in each of formats, as OGC API
// – Features Part 1 asks of every page of features and every feature
// (/req/core/fc-links, /req/core/f-links): u's query is kept, f replaced.
func alternateLinks(u pageURL, formats []string, title string) []link {
	out := make([]link, len(formats))
	for i, f := range formats {
		out[i] = link{Href: u.with("f", f), Rel: "alternate", Type: formatLinks[f].mediaType, Title: title + " as " + formatLinks[f].name}
	}
	return out
}

func (col *collection) listItems(c *gin.Context) {
	f, mediaType, err := negotiateAs(c, featureJSON, append([]string{"json", "geojson"}, col.pageFormats()...))
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	// One parse of the query serves the shape and the filter.
	query := c.Request.URL.Query()
	shape, err := parseShape(query, col.properties)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	page, err := col.list(c.Request.Context(), query)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	shape.apply(page.features)
	self := newPageURL(c)
	var cursor string
	if page.next != nil {
		cursor = EncodeCursor(page.next)
		// Formats without a links member (CSV, STIX) page through this
		// header alone: RFC 8288, as OGC API – Features Part 1 recommends
		// (/rec/core/link-header).
		c.Header("Link", "<"+self.with("cursor", cursor, "offset", "", "f", f)+`>; rel="next"`)
	}
	switch f {
	case "csv":
		col.writeCSV(c.Writer, page)
		return
	case "stix":
		col.s.writeSTIX(c, page.features)
		return
	case "html":
		col.s.itemsPage(c, col, page)
		return
	}
	links := append([]link{{Href: self.with("f", "json"), Rel: "self", Type: geoJSONType, Title: "this page"}},
		alternateLinks(self, col.pageFormats(), "this page")...)
	links = append(links, link{Href: linkTo(c, "/collections/"+col.id), Rel: "collection", Type: "application/json", Title: col.title})
	if cursor != "" {
		links = append(links, link{Href: self.with("cursor", cursor, "offset", "", "f", "json"), Rel: "next", Type: geoJSONType, Title: "next page"})
	}
	c.Header("Content-Type", mediaType)
	c.Status(http.StatusOK)
	writeFeatureCollection(c.Writer, page, links)
}

func (col *collection) featureID(c *gin.Context) (int64, bool) {
	id, ok := parseID(c.Param("featureId"))
	if !ok {
		col.s.writeError(c, domain.Errorf(domain.ENOTFOUND, "%s has no feature %q", col.id, c.Param("featureId")))
		return 0, false
	}
	return id, true
}

func (col *collection) getItem(c *gin.Context) {
	id, ok := col.featureID(c)
	if !ok {
		return
	}
	format, mediaType, err := negotiateAs(c, featureJSON, append([]string{"json", "geojson"}, col.itemFormats()...))
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	ft, err := col.get(c.Request.Context(), id)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	switch format {
	case "html":
		col.s.itemPage(c, col, ft)
		return
	case "stix":
		col.s.writeSTIX(c, []feature{*ft})
		return
	}
	col.writeFeatureAs(c, http.StatusOK, ft, mediaType)
}

// writeFeature renders one feature with its ETag and links, as GeoJSON.
func (col *collection) writeFeature(c *gin.Context, status int, ft *feature) {
	col.writeFeatureAs(c, status, ft, geoJSONType)
}

// writeFeatureAs is writeFeature labelled with mediaType, one of
// featureJSON.
func (col *collection) writeFeatureAs(c *gin.Context, status int, ft *feature, mediaType string) {
	self := "/collections/" + col.id + "/items/" + strconv.FormatInt(ft.ID, 10)
	// The item's URL with access_token when the request had one: all of a
	// GET's query but f, and all a write's response may link with.
	href := linkTo(c, self)
	ft.Links = append([]link{{Href: href, Rel: "self", Type: geoJSONType}},
		alternateLinks(parsePageURL(href), col.itemFormats(), "this feature")...)
	ft.Links = append(ft.Links,
		link{Href: linkTo(c, "/collections/"+col.id), Rel: "collection", Type: "application/json"},
		link{Href: linkTo(c, self+"/history"), Rel: "version-history", Type: "application/json"})
	if notModified(c, etag(ft.version)) {
		return
	}
	c.Header("ETag", etag(ft.version))
	// The items stream's encoder, not gin's reflection: a feature by id is
	// the cheapest request there is, and encoding was an eighth of it.
	buf := featureBuffers.Get().(*[]byte)
	defer featureBuffers.Put(buf)
	var err error
	if *buf, err = appendFeature((*buf)[:0], ft); err != nil {
		col.s.writeError(c, err)
		return
	}
	c.Data(status, mediaType, *buf)
}

func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// ifMatch reads the preconditions of a write: If-Match as the version the
// write must find (0: no precondition), compared strongly, so a weak tag
// (W/"3") never matches (RFC 9110 §13.1.1); and If-None-Match, which fails
// when it is "*" or names the current version (§13.1.2). current reads
// the record's version when a list or If-None-Match needs it; the store
// still checks the version it is given inside the write.
func ifMatch(c *gin.Context, current func() (int, error)) (int, error) {
	if h := c.GetHeader("If-None-Match"); h != "" {
		tags, any := parseETags(h)
		cur, err := current()
		if err != nil {
			return 0, err
		}
		if any || slices.ContainsFunc(tags, func(t entityTag) bool { return t.opaque == etag(cur) }) {
			return 0, domain.Errorf(domain.EPRECONDITION, "If-None-Match %s matches the record's current version %d", h, cur)
		}
	}
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" {
		return 0, nil
	}
	tags, any := parseETags(h)
	if any {
		return 0, nil
	}
	var versions []int
	for _, t := range tags {
		if t.weak {
			continue // strong comparison: a weak tag matches nothing
		}
		if v, err := strconv.Atoi(strings.Trim(t.opaque, `"`)); err == nil && v > 0 {
			versions = append(versions, v)
		}
	}
	switch len(versions) {
	case 0:
		return 0, domain.Errorf(domain.EPRECONDITION, "If-Match %s matches no version of this record (weak tags never match: If-Match compares strongly)", h)
	case 1:
		return versions[0], nil
	}
	cur, err := current()
	if err != nil {
		return 0, err
	}
	if !slices.Contains(versions, cur) {
		return 0, domain.Errorf(domain.EPRECONDITION, "the record is at version %d, which If-Match %s does not name", cur, h)
	}
	return cur, nil
}

// maxPatchAttempts bounds the read-merge-write rounds of a PATCH without
// If-Match. Writes are serialized, so every lost round means another write
// committed; the bound is reached only under a stream of writes.
const maxPatchAttempts = 50

// retryPatch reports whether a PATCH should run again because another write
// slipped in between its read and its write. With If-Match the client asked
// for exactly one version, so there is nothing to retry.
func retryPatch(err error, want, attempt int) bool {
	return want == 0 && domain.ErrorCodeOf(err) == domain.EPRECONDITION && attempt+1 < maxPatchAttempts
}

// patchError is the error a PATCH answers with: a client that sent no
// If-Match never gets 412, which would name a precondition it did not set.
func patchError(err error, want int) error {
	if want == 0 && domain.ErrorCodeOf(err) == domain.EPRECONDITION {
		return domain.Errorf(domain.ECONFLICT, "the record kept changing while the patch was applied; send it again")
	}
	return err
}

// versionOf returns a function reading the feature's current version, for
// ifMatch.
func (col *collection) versionOf(ctx context.Context, id int64) func() (int, error) {
	return func() (int, error) {
		ft, err := col.get(ctx, id)
		if err != nil {
			return 0, err
		}
		return ft.version, nil
	}
}

func (col *collection) createItem(c *gin.Context) {
	body, err := readBody(c, featureBodyTypes...)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	rec, err := col.decode(body)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	ft, err := col.create(c.Request.Context(), rec)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	c.Header("Location", baseURL(c)+"/collections/"+col.id+"/items/"+strconv.FormatInt(ft.ID, 10))
	if props, ok := ft.Properties.(*incidentProps); ok {
		// A warning, never a refusal: the client may offer to merge. The
		// links share one field (RFC 8288 §3 allows a list), so the
		// response's header count stays fixed however many there are.
		links := make([]string, len(props.PossibleDuplicates))
		for i, id := range props.PossibleDuplicates {
			links[i] = "<" + linkTo(c, "/collections/"+col.id+"/items/"+strconv.FormatInt(id, 10)) + `>; rel="duplicate"`
		}
		if len(links) > 0 {
			c.Header("Link", strings.Join(links, ", "))
		}
	}
	col.writeFeature(c, http.StatusCreated, ft)
}

func (col *collection) replaceItem(c *gin.Context) {
	id, ok := col.featureID(c)
	if !ok {
		return
	}
	want, err := ifMatch(c, col.versionOf(c.Request.Context(), id))
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	body, err := readBody(c, featureBodyTypes...)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	rec, err := col.decode(body)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	var named struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(body, &named); err != nil {
		col.s.writeError(c, jsonError(err, ""))
		return
	}
	if err := sameFeatureID(named.ID, id); err != nil {
		col.s.writeError(c, err)
		return
	}
	ft, err := col.replace(c.Request.Context(), id, rec, want)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	col.writeFeature(c, http.StatusOK, ft)
}

// patchItem applies an RFC 7396 merge patch to the feature's geometry and
// properties. Without If-Match it retries when another write slipped in
// between the read and the write, so no concurrent change is overwritten.
func (col *collection) patchItem(c *gin.Context) {
	id, ok := col.featureID(c)
	if !ok {
		return
	}
	want, err := ifMatch(c, col.versionOf(c.Request.Context(), id))
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	body, err := readBody(c, "application/merge-patch+json", "application/json", "application/geo+json")
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(body, &patch); err != nil {
		col.s.writeError(c, jsonError(err, ""))
		return
	}
	for k := range patch {
		if k != "geometry" && k != "properties" && k != "type" && k != "id" && k != "links" {
			col.s.writeError(c, domain.InvalidField(k, "a merge patch may change geometry and properties only"))
			return
		}
	}
	if err := sameFeatureID(patch["id"], id); err != nil {
		col.s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	for attempt := 0; ; attempt++ {
		cur, err := col.get(ctx, id)
		if err != nil {
			col.s.writeError(c, err)
			return
		}
		if want != 0 && want != cur.version {
			col.s.writeError(c, domain.Errorf(domain.EPRECONDITION, "the record is at version %d, not %d", cur.version, want))
			return
		}
		curJSON, err := json.Marshal(cur)
		if err != nil {
			col.s.writeError(c, err)
			return
		}
		merged, err := mergePatch(curJSON, body)
		if err != nil {
			col.s.writeError(c, err)
			return
		}
		rec, err := col.decode(merged)
		if err != nil {
			col.s.writeError(c, err)
			return
		}
		ft, err := col.replace(ctx, id, rec, cur.version)
		if retryPatch(err, want, attempt) {
			continue
		}
		if err != nil {
			col.s.writeError(c, patchError(err, want))
			return
		}
		col.writeFeature(c, http.StatusOK, ft)
		return
	}
}

// sameFeatureID refuses a write whose body names another feature than its
// path: a Feature's "id" member, a number or a string (RFC 7946 §3.2), may
// be absent or null, or repeat the path's id; an id never changes, so a
// different one is a client writing to the wrong URL, not a rename.
func sameFeatureID(raw json.RawMessage, id int64) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	text := string(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		text = s
	}
	if text == strconv.FormatInt(id, 10) {
		return nil
	}
	return domain.InvalidField("id", "%s differs from the feature in the path (%d); ids cannot change", raw, id)
}

// allowItem answers OPTIONS on one feature as GET would answer first: 404
// for a feature that does not exist, so no client learns it may edit a
// record that is not there; the methods otherwise.
func (col *collection) allowItem(c *gin.Context) {
	id, ok := col.featureID(c)
	if !ok {
		return
	}
	if _, err := col.get(c.Request.Context(), id); err != nil {
		col.s.writeError(c, err)
		return
	}
	col.s.allow(c)
}

func (col *collection) removeItem(c *gin.Context) {
	id, ok := col.featureID(c)
	if !ok {
		return
	}
	want, err := ifMatch(c, col.versionOf(c.Request.Context(), id))
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	if err := col.delete(c.Request.Context(), id, want); err != nil {
		col.s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (col *collection) itemHistory(c *gin.Context) {
	id, ok := col.featureID(c)
	if !ok {
		return
	}
	vs, err := col.history(c.Request.Context(), id)
	if err != nil {
		col.s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"versions": vs})
}

// mergePatch applies an RFC 7396 merge patch to a JSON document. Numbers
// stay json.Number, so an integer beyond 2^53 is carried exactly to the
// typed decoder, which refuses it if it does not fit, instead of being
// rounded through float64.
func mergePatch(doc, patch []byte) ([]byte, error) {
	var d, p any
	if err := decodeNumbers(doc, &d); err != nil {
		return nil, err
	}
	if err := decodeNumbers(patch, &p); err != nil {
		return nil, jsonError(err, "")
	}
	// RFC 7396 lets any other value replace the whole document, which
	// for a record is never valid: the fault is the body, not a member.
	if _, ok := p.(map[string]any); !ok {
		return nil, domain.InvalidField("body", "must be a JSON object: a merge patch of the record's members")
	}
	if err := checkJSONText(patch, ""); err != nil {
		return nil, err
	}
	return json.Marshal(mergeValue(d, p))
}

func decodeNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

func mergeValue(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergeValue(t[k], v)
		}
	}
	return t
}

// queryablesDoc answers /collections/{c}/queryables: a JSON Schema of the
// properties a filter= may test (OGC API – Features Part 3).
func (col *collection) queryablesDoc(c *gin.Context) {
	if _, err := formatParam(c, []string{"json"}); err != nil {
		col.s.writeError(c, err)
		return
	}
	props := map[string]any{}
	for _, q := range col.queryables {
		p := map[string]any{"title": q.Name}
		switch q.Type {
		case "timestamp":
			p["type"], p["format"] = "string", "date-time"
		case "geometry":
			// OGC API – Features Part 3 (Queryables, recommendation
			// 5): the feature's geometry, a point.
			p["format"] = "geometry-point"
		case "array":
			p["type"], p["items"] = "array", map[string]any{"type": "string"}
		default:
			p["type"] = q.Type
		}
		if q.Enum != nil {
			p["enum"] = q.Enum
		}
		if q.Nullable {
			// JSON Schema 2020-12's form (OpenAPI's nullable is not
			// JSON Schema): a type list.
			p["type"] = []any{p["type"], "null"}
		}
		props[q.Name] = p
	}
	c.Header("Content-Type", "application/schema+json")
	c.JSON(http.StatusOK, gin.H{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     linkTo(c, "/collections/"+col.id+"/queryables"),
		"type":    "object", "title": col.title, "properties": props, "additionalProperties": false,
	})
}
