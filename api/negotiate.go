package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

// MediaRange is one element of an Accept header (RFC 9110 §12.5.1):
// type and subtype in lower case ("*" for a wildcard), its parameters
// other than q as lower-case "name=value", and the weight q in [0, 1].
type MediaRange struct {
	Type, Subtype string
	Params        []string
	Q             float64
}

// ParseAccept reads an Accept header. Media types are case-insensitive
// and so are parameter names; a range that is not type/subtype, or whose
// q is not a qvalue (0 to 1 with at most three decimals), is left out, as
// a header one cannot read says nothing about it.
func ParseAccept(h string) []MediaRange {
	var out []MediaRange
	for _, part := range strings.Split(h, ",") {
		fields := strings.Split(part, ";")
		typ, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(fields[0])), "/")
		if !ok || !isToken(typ) || !isToken(sub) || (typ == "*" && sub != "*") {
			continue
		}
		r := MediaRange{Type: typ, Subtype: sub, Q: 1}
		valid := true
		for _, p := range fields[1:] {
			name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !strings.EqualFold(name, "q") {
				r.Params = append(r.Params, strings.ToLower(name+"="+strings.Trim(strings.TrimSpace(value), `"`)))
				continue
			}
			q, ok := parseQValue(strings.TrimSpace(value))
			if !ok {
				valid = false
				break
			}
			r.Q = q
			// Parameters after q are accept-ext, not the media type's.
			break
		}
		if valid {
			out = append(out, r)
		}
	}
	return out
}

// parseQValue reads qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
func parseQValue(s string) (float64, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	if len(s) > 1 {
		if s[1] != '.' {
			return 0, false
		}
		for _, c := range s[2:] {
			if c < '0' || c > '9' || (s[0] == '1' && c != '0') {
				return 0, false
			}
		}
	}
	q, err := strconv.ParseFloat(s, 64)
	return q, err == nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

// qualityOf is the weight ranges give the media type mt ("text/html"): that
// of the most specific range matching it (RFC 9110 §12.5.1), or -1 when
// none does.
func qualityOf(ranges []MediaRange, mt string) float64 {
	typ, sub, _ := strings.Cut(mt, "/")
	best, q := -1, -1.0
	for _, r := range ranges {
		spec := 0
		switch {
		case r.Type == typ && r.Subtype == sub:
			if !paramsHold(r.Params) {
				continue // text/html;level=1 says nothing of text/html
			}
			spec = 2 + min(len(r.Params), 1)
		case r.Type == typ && r.Subtype == "*":
			spec = 1
		case r.Type == "*":
			spec = 0
		default:
			continue
		}
		if spec > best {
			best, q = spec, r.Q
		}
	}
	return q
}

// paramsHold reports whether every parameter of a range holds for what
// postwatch writes: UTF-8 text, and the versions its typed formats carry
// (application/stix+json;version=2.1 and the like), which a range names to
// ask for that version.
func paramsHold(params []string) bool {
	for _, p := range params {
		if p != "charset=utf-8" && !strings.HasPrefix(p, "version=") {
			return false
		}
	}
	return true
}

// formatTypes are the media types each f= value answers with, the one it
// is labelled with first. A "json" answer's types depend on the resource
// (plainJSON, featureJSON) and are not listed here.
var formatTypes = map[string][]string{
	"geojson": {geoJSONType},
	"html":    {"text/html", "application/xhtml+xml"},
	"csv":     {"text/csv"},
	"stix":    {"application/stix+json"},
}

// The media types a "json" answer may carry, preferred first: a feature or
// a page of features is GeoJSON, which is also JSON, so a client that
// refuses application/geo+json but takes application/json gets the same
// body labelled application/json.
var (
	plainJSON   = []string{"application/json"}
	featureJSON = []string{geoJSONType, "application/json"}
)

// negotiate picks the response format of a resource that is not a feature
// (its JSON is application/json); see negotiateAs.
func negotiate(c *gin.Context, allowed []string) (string, error) {
	f, _, err := negotiateAs(c, plainJSON, allowed)
	return f, err
}

// negotiateAs picks the response format and the media type of a JSON or
// GeoJSON answer: f= if given (it wins over Accept, as OGC API – Features
// says), else the allowed format Accept weighs most (RFC 9110 §12.5.1),
// ties going to the earlier one, and allowed lists JSON first; it is
// labelled with the first of its types that Accept does not refuse.
// No Accept, or one that accepts none of them, gets JSON, as RFC 9110 lets
// a server disregard Accept (OWSLib sends none) — unless Accept gives one
// of the JSON types q=0: it has then said what it refuses and accepted
// nothing offered, so the answer is 406.
func negotiateAs(c *gin.Context, jsonTypes []string, allowed []string) (format, mediaType string, err error) {
	typesOf := func(f string) []string {
		if f == "json" {
			return jsonTypes
		}
		return formatTypes[f]
	}
	f, err := formatParam(c, allowed)
	if err != nil {
		return "", "", err
	}
	if f != "" {
		return f, typesOf(f)[0], nil
	}
	c.Writer.Header().Add("Vary", "Accept")
	h := c.GetHeader("Accept")
	if strings.TrimSpace(h) == "" {
		return "json", jsonTypes[0], nil
	}
	ranges := ParseAccept(h)
	bestQ := 0.0
	for _, f := range allowed {
		q := -1.0
		for _, mt := range typesOf(f) {
			q = max(q, qualityOf(ranges, mt))
		}
		if q > bestQ {
			format, bestQ = f, q
		}
	}
	if format != "" {
		// Labelled with its first type not refused: application/json
		// alone still gets application/geo+json, which is JSON too.
		for _, mt := range typesOf(format) {
			if qualityOf(ranges, mt) != 0 {
				return format, mt, nil
			}
		}
	}
	for _, mt := range jsonTypes {
		if qualityOf(ranges, mt) == 0 {
			return "", "", &domain.Error{Code: domain.ENOTACCEPTABLE,
				Message: "Accept gives q=0 to " + mt + " and accepts nothing else this resource has; it offers " + strings.Join(allowed, ", ") + " (or use f=)",
				Fields:  []domain.FieldError{{Field: "Accept", Message: "accepts none of the formats offered"}}}
		}
	}
	return "json", jsonTypes[0], nil
}

// formatParam reads f=: "" when it is absent, else one of allowed or an
// error naming f. A resource with one format calls it alone, so that f=
// names what it offers rather than being ignored.
func formatParam(c *gin.Context, allowed []string) (string, error) {
	f := c.Query("f")
	if f == "" || slices.Contains(allowed, f) {
		return f, nil
	}
	return "", domain.InvalidField("f", "%q is not one of %s", f, strings.Join(allowed, ", "))
}

// entityTag is one tag of an If-Match or If-None-Match list.
type entityTag struct {
	weak   bool
	opaque string // with its quotes
}

// parseETags reads a list of entity tags (RFC 9110 §8.8.3); any reports
// "*". Members that are not entity tags are skipped.
func parseETags(h string) (tags []entityTag, any bool) {
	h = strings.TrimSpace(h)
	if h == "*" {
		return nil, true
	}
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		t := entityTag{}
		if rest, ok := strings.CutPrefix(part, "W/"); ok {
			t.weak, part = true, rest
		}
		if len(part) < 2 || part[0] != '"' || part[len(part)-1] != '"' || strings.Contains(part[1:len(part)-1], `"`) {
			continue
		}
		t.opaque = part
		tags = append(tags, t)
	}
	return tags, false
}

// notModified answers 304 to a GET or HEAD whose If-None-Match names the
// record's current ETag (weak comparison, RFC 9110 §13.1.2: W/"3" matches
// "3") or is "*", and reports whether it did. The 304 carries the ETag
// and no body.
func notModified(c *gin.Context, current string) bool {
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		return false
	}
	h := c.GetHeader("If-None-Match")
	if h == "" {
		return false
	}
	tags, any := parseETags(h)
	match := any
	for _, t := range tags {
		if t.opaque == strings.TrimPrefix(current, "W/") {
			match = true
		}
	}
	if !match {
		return false
	}
	c.Header("ETag", current)
	c.Status(http.StatusNotModified)
	c.Writer.WriteHeaderNow()
	c.Abort()
	return true
}
