package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/postwatch/postwatch/domain"
)

// readBody reads a JSON request body whose media type is one of accepted
// (or absent), reporting an oversize body as ETOOLARGE.
func readBody(c *gin.Context, accepted ...string) ([]byte, error) {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !slices.Contains(accepted, mt) {
			msg := fmt.Sprintf("%q is not accepted here; send %s", ct, strings.Join(accepted, " or "))
			return nil, &domain.Error{Code: domain.EUNSUPPORTED, Message: "Content-Type " + msg,
				Fields: []domain.FieldError{{Field: "Content-Type", Message: msg}}}
		}
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &domain.Error{Code: domain.ETOOLARGE, Message: fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit),
				Fields: []domain.FieldError{{Field: "body", Message: fmt.Sprintf("larger than %d bytes", tooBig.Limit)}}}
		}
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, domain.InvalidField("body", "is empty; a JSON document is required")
	}
	// encoding/json would silently turn invalid bytes into U+FFFD, storing
	// text the client never sent.
	if !utf8.Valid(body) {
		return nil, domain.InvalidField("body", "is not valid UTF-8")
	}
	return body, nil
}

// decodeStrict decodes JSON into v, rejecting unknown fields and trailing
// data, and names the offending field (prefixed with prefix) on error.
func decodeStrict(data []byte, v any, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, prefix)
	}
	// More would miss a stray "}" or "]"; only the end of input may follow.
	if _, err := dec.Token(); err != io.EOF {
		field := strings.TrimSuffix(prefix, ".")
		if field == "" {
			field = "body"
		}
		return domain.InvalidField(field, "has data after the JSON value")
	}
	if prefix == "" {
		// Nested calls decode parts of a document already checked whole.
		return checkJSONText(data, "")
	}
	return nil
}

// decodeEach decodes the elements of a JSON array one by one, so that an
// error names its element (properties.actors[2].colour): encoding/json
// reports an unknown field by its name alone. nil stays nil.
func decodeEach[T any](raws []json.RawMessage, field string) ([]T, error) {
	if raws == nil {
		return nil, nil
	}
	out := make([]T, len(raws))
	for i, raw := range raws {
		if err := decodeStrict(raw, &out[i], field+"["+strconv.Itoa(i)+"]."); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// jsonError turns an encoding/json error into an EINVALID naming the field.
func jsonError(err error, prefix string) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	field := strings.TrimSuffix(prefix, ".")
	if field == "" {
		field = "body"
	}
	switch {
	case errors.As(err, &syntax):
		return domain.InvalidField(field, "malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		if typ.Field != "" {
			field = prefix + typ.Field
		}
		return domain.InvalidField(field, "expected %s, got JSON %s", jsonTypeName(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return domain.InvalidField(field, "malformed JSON: unexpected end of input")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name = strings.Trim(name, `"`); name == "" {
			// A member named "" would leave the field unnamed.
			return domain.InvalidField(field, "has a member with an empty name")
		}
		return domain.InvalidField(prefix+name, "unknown field")
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return de
	}
	return domain.InvalidField(field, "%s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonTypeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint"):
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "slice" || kind == "array":
		return "an array"
	case kind == "struct" || kind == "map":
		return "an object"
	case kind == "bool":
		return "a boolean"
	}
	return kind
}

// featureIn is a GeoJSON Feature as received; geometry and properties are
// decoded by the collection.
type featureIn struct {
	Type       string          `json:"type"`
	CRS        json.RawMessage `json:"crs"`
	ID         json.RawMessage `json:"id"`
	Geometry   json.RawMessage `json:"geometry"`
	Properties json.RawMessage `json:"properties"`
	BBox       json.RawMessage `json:"bbox"`
	Links      json.RawMessage `json:"links"`
}

// decodeFeature checks the Feature envelope and decodes its Point geometry
// through orb.
func decodeFeature(data []byte) (*featureIn, orb.Point, error) {
	var f featureIn
	if err := decodeStrict(data, &f, ""); err != nil {
		return nil, orb.Point{}, err
	}
	if f.Type != "Feature" {
		return nil, orb.Point{}, domain.InvalidField("type", "must be \"Feature\", got %q", f.Type)
	}
	if isNull(f.Properties) {
		return nil, orb.Point{}, domain.InvalidField("properties", "is required")
	}
	if err := CheckCRS(f.CRS, "crs"); err != nil {
		return nil, orb.Point{}, err
	}
	pt, err := decodePoint(f.Geometry)
	return &f, pt, err
}

func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

// decodePoint reads a GeoJSON Point geometry; range checks are the domain's.
func decodePoint(raw json.RawMessage) (orb.Point, error) {
	if isNull(raw) {
		return orb.Point{}, domain.InvalidField("geometry", "is required")
	}
	var head struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
		CRS         json.RawMessage `json:"crs"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return orb.Point{}, jsonError(err, "geometry.")
	}
	if head.Type != "Point" {
		return orb.Point{}, domain.InvalidField("geometry.type", "must be \"Point\", got %q", head.Type)
	}
	if err := CheckCRS(head.CRS, "geometry.crs"); err != nil {
		return orb.Point{}, err
	}
	var coords []float64
	if err := json.Unmarshal(head.Coordinates, &coords); err != nil || len(coords) < 2 || len(coords) > 3 {
		return orb.Point{}, domain.InvalidField("geometry.coordinates", "must be [longitude, latitude] numbers")
	}
	if len(coords) == 3 {
		// Nothing stores or serves a height, so keeping quiet would drop it.
		return orb.Point{}, domain.InvalidField("geometry.coordinates", "has a third value (altitude), which postwatch does not store; send [longitude, latitude]")
	}
	g, err := geojson.UnmarshalGeometry(raw)
	if err != nil {
		return orb.Point{}, domain.InvalidField("geometry", "%s", err.Error())
	}
	pt, ok := g.Coordinates.(orb.Point)
	if !ok {
		return orb.Point{}, domain.InvalidField("geometry.type", "must be \"Point\"")
	}
	return pt, nil
}

// parseTime reads a time of a body through domain.ParseDateOrRFC3339 (RFC
// 3339, or a calendar date as midnight UTC) and names field on error.
func parseTime(field, s string) (time.Time, error) {
	t, _, err := domain.ParseDateOrRFC3339(s)
	if err != nil {
		return time.Time{}, domain.InvalidField(field, "%s", err.Error())
	}
	return t, nil
}

// crs84Names are the names of RFC 7946's one reference system, WGS 84
// longitude-latitude, as GeoJSON 2008's named-CRS member writes them.
var crs84Names = []string{
	"urn:ogc:def:crs:OGC:1.3:CRS84",
	"urn:ogc:def:crs:OGC::CRS84",
	"http://www.opengis.net/def/crs/OGC/1.3/CRS84",
	"https://www.opengis.net/def/crs/OGC/1.3/CRS84",
}

// CheckCRS refuses a GeoJSON 2008 "crs" member (raw, at field) that names
// anything but CRS84: RFC 7946 §4 drops the member and fixes coordinates as
// longitude, latitude in WGS 84, so a file that says EPSG:4326 (latitude
// first) or a projected system would otherwise land its points elsewhere.
// An absent or null member passes.
func CheckCRS(raw json.RawMessage, field string) error {
	if isNull(raw) {
		return nil
	}
	var named struct {
		Type       string `json:"type"`
		Properties struct {
			Name string `json:"name"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &named); err != nil || named.Type != "name" {
		return domain.InvalidField(field, "only a named CRS84 is accepted ({\"type\": \"name\", \"properties\": {\"name\": \"urn:ogc:def:crs:OGC:1.3:CRS84\"}}); RFC 7946 coordinates are longitude, latitude in WGS 84")
	}
	for _, n := range crs84Names {
		if strings.EqualFold(named.Properties.Name, n) {
			return nil
		}
	}
	return domain.InvalidField(field, "%q is not CRS84; RFC 7946 GeoJSON is longitude, latitude in WGS 84: reproject the data (e.g. ogr2ogr -t_srs CRS:84) and drop the crs member", named.Properties.Name)
}
