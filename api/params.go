package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// ParseBBox reads bbox=minLon,minLat,maxLon,maxLat.
func ParseBBox(raw string) ([]orb.Bound, error) {
	parts := strings.Split(raw, ",")
	if len(parts) != 4 {
		if len(parts) == 6 {
			return nil, domain.InvalidField("bbox", "3D boxes are not supported; give minLon,minLat,maxLon,maxLat")
		}
		return nil, domain.InvalidField("bbox", "must be four numbers minLon,minLat,maxLon,maxLat")
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, domain.InvalidField("bbox", "%q is not a number", p)
		}
		v[i] = f
	}
	b, err := geo.NewBBox(v[0], v[1], v[2], v[3])
	if err != nil {
		return nil, domain.InvalidField("bbox", "%s", err.Error())
	}
	return b.Bounds(), nil
}

// ParseDatetime reads an OGC datetime: an instant, or an interval A/B with
// ".." or "" for an open end. A date stands for its whole UTC day.
func ParseDatetime(raw string) (*domain.TimeRange, error) {
	start, end, isInterval := strings.Cut(raw, "/")
	if !isInterval {
		a, b, err := parseInstant(raw)
		if err != nil {
			return nil, err
		}
		return &domain.TimeRange{Start: &a, End: &b}, nil
	}
	r := &domain.TimeRange{}
	if start != ".." && start != "" {
		a, _, err := parseInstant(start)
		if err != nil {
			return nil, err
		}
		r.Start = &a
	}
	if end != ".." && end != "" {
		_, b, err := parseInstant(end)
		if err != nil {
			return nil, err
		}
		r.End = &b
	}
	if r.Start == nil && r.End == nil {
		return nil, domain.InvalidField("datetime", "an interval needs at least one bounded end")
	}
	if r.Start != nil && r.End != nil && r.End.Before(*r.Start) {
		return nil, domain.InvalidField("datetime", "the interval ends before it starts")
	}
	return r, nil
}

// parseInstant returns the first and last moment an instant stands for: a
// timestamp is itself, a date spans its day.
func parseInstant(s string) (time.Time, time.Time, error) {
	t, isDate, err := domain.ParseDateOrRFC3339(s)
	switch {
	case err != nil:
		return time.Time{}, time.Time{}, domain.InvalidField("datetime", "%s", err.Error())
	case isDate:
		return t, t.Add(24*time.Hour - time.Microsecond), nil
	}
	return t, t, nil
}

// ParseNear reads near=lon,lat and radius=meters.
func ParseNear(near, radius string) (*domain.Near, error) {
	parts := strings.Split(near, ",")
	if len(parts) != 2 {
		return nil, domain.InvalidField("near", "must be lon,lat")
	}
	var pt orb.Point
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, domain.InvalidField("near", "%q is not a number", p)
		}
		pt[i] = f
	}
	if err := geo.ValidatePoint(pt); err != nil {
		return nil, domain.InvalidField("near", "%s", err.Error())
	}
	n := &domain.Near{Center: pt, RadiusM: domain.DefaultRadius}
	if radius != "" {
		r, err := strconv.ParseFloat(radius, 64)
		if err != nil || math.IsNaN(r) || r < 0 || r > domain.MaxRadius {
			return nil, domain.InvalidField("radius", "must be a number of meters in [0, %d]", domain.MaxRadius)
		}
		n.RadiusM = r
	}
	return n, nil
}

// ParsePage reads limit, offset and cursor. A limit above the maximum is
// clamped, as OGC API – Features requires.
func ParsePage(q url.Values) (domain.Page, error) {
	p := domain.Page{Limit: domain.DefaultLimit}
	if v, ok := lookup(q, "limit"); ok {
		n, err := strconv.Atoi(v)
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
			n, err = domain.MaxLimit, nil // too large even for an int: clamped like any other
		}
		if err != nil || n < 1 {
			return p, domain.InvalidField("limit", "must be a positive integer")
		}
		p.Limit = min(n, domain.MaxLimit)
	}
	if v, ok := lookup(q, "offset"); ok {
		n, err := strconv.Atoi(v)
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
			n, err = domain.MaxOffset, nil // past every record either way
		}
		if err != nil || n < 0 {
			return p, domain.InvalidField("offset", "must be a non-negative integer")
		}
		p.Offset = min(n, domain.MaxOffset)
	}
	if v, ok := lookup(q, "cursor"); ok {
		c, err := DecodeCursor(v)
		if err != nil {
			return p, err
		}
		p.Cursor = c
	}
	return p, nil
}

// EncodeCursor makes the opaque cursor of a next link.
func EncodeCursor(c *domain.Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor made by EncodeCursor.
func DecodeCursor(s string) (*domain.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c domain.Cursor
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID <= 0 {
		return nil, domain.InvalidField("cursor", "is not a cursor this server issued")
	}
	return &c, nil
}

// parseIDs reads a comma-separated list of positive integer ids.
func parseIDs(field, raw string) ([]int64, error) {
	var out []int64
	parts := strings.Split(raw, ",")
	if len(parts) > domain.MaxListLen {
		return nil, domain.InvalidField(field, "has more than %d entries", domain.MaxListLen)
	}
	for _, p := range parts {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || id <= 0 {
			return nil, domain.InvalidField(field, "%q is not an id", p)
		}
		out = append(out, id)
	}
	return out, nil
}

// parseStrings reads a comma-separated list of non-empty strings.
func parseStrings(field, raw string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, domain.InvalidField(field, "has an empty entry")
		}
		out = append(out, p)
	}
	if len(out) > domain.MaxListLen {
		return nil, domain.InvalidField(field, "has more than %d entries", domain.MaxListLen)
	}
	return out, nil
}

// parseCountries reads a list of ISO 3166-1 alpha-2 codes.
func parseCountries(raw string) ([]string, error) {
	cs, err := parseStrings("country", raw)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		c = strings.ToUpper(c)
		if !domain.IsCountry(c) {
			return nil, domain.InvalidField("country", "%q is not an ISO 3166-1 alpha-2 code", cs[i])
		}
		cs[i] = c
	}
	return cs, nil
}

// ParseIncidentFilter reads every items query parameter of incidents.
func ParseIncidentFilter(q url.Values) (domain.IncidentFilter, error) {
	f := domain.IncidentFilter{SortBy: domain.SortOccurredAtDesc, Attribution: domain.AttributionDirect}
	var err error
	if f.Page, err = ParsePage(q); err != nil {
		return f, err
	}
	if f.BBox, f.Near, err = parseSpatial(q); err != nil {
		return f, err
	}
	if v, ok := lookup(q, "datetime"); ok {
		if f.Time, err = ParseDatetime(v); err != nil {
			return f, err
		}
	}
	if v, ok := lookup(q, "type"); ok {
		if f.Types, err = domain.ParseEnumList("type", v, domain.IncidentTypes); err != nil {
			return f, err
		}
	}
	if v, ok := lookup(q, "status"); ok {
		if f.Statuses, err = domain.ParseEnumList("status", v, domain.IncidentStatuses); err != nil {
			return f, err
		}
	}
	if v, ok := lookup(q, "actor"); ok {
		if f.ActorIDs, err = parseStrings("actor", v); err != nil {
			return f, err
		}
	}
	if v, ok := lookup(q, "attribution"); ok {
		as, err := domain.ParseEnumList("attribution", v, domain.Attributions)
		if err != nil || len(as) != 1 {
			return f, domain.InvalidField("attribution", "must be direct or chain")
		}
		f.Attribution = as[0]
	}
	if v, ok := lookup(q, "actor_role"); ok {
		if f.ActorRoles, err = domain.ParseEnumList("actor_role", v, domain.ActorRoles); err != nil {
			return f, err
		}
		if len(f.ActorIDs) == 0 {
			return f, domain.InvalidField("actor_role", "limits actor=, which is not given")
		}
		if f.Attribution == domain.AttributionChain && len(domain.ChainRoles(f.ActorRoles)) == 0 {
			return f, domain.InvalidField("actor_role", "chain attribution counts only the roles %v; a target is never responsible", domain.AttributionRoles)
		}
	}
	if v, ok := lookup(q, "facility"); ok {
		if f.FacilityIDs, err = parseIDs("facility", v); err != nil {
			return f, err
		}
	}
	if v, ok := lookup(q, "country"); ok {
		if f.Countries, err = parseCountries(v); err != nil {
			return f, err
		}
	}
	if v, ok := lookup(q, "severity_min"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > domain.MaxSeverity {
			return f, domain.InvalidField("severity_min", "must be an integer from 1 to %d", domain.MaxSeverity)
		}
		f.SeverityMin = &n
	}
	if v, ok := lookup(q, "sortby"); ok {
		if f.SortBy, err = domain.ParseSortKey(v); err != nil {
			return f, err
		}
	}
	// An empty (or blank) q, as a search form sends it, is no filter.
	if v := q.Get("q"); strings.TrimSpace(v) != "" {
		if len(v) > domain.MaxShortTextLen {
			return f, domain.InvalidField("q", "is longer than %d characters", domain.MaxShortTextLen)
		}
		// Text without a word would match every incident: an answer to a
		// question nobody asked.
		if len(domain.SearchWords(v)) == 0 {
			return f, domain.InvalidField("q", "%q holds no letters or digits to search for", v)
		}
		f.Text = v
	}
	if f.Where, err = parseFilter(q, domain.IncidentQueryables); err != nil {
		return f, err
	}
	f.Where, err = withQueryableParams(f.Where, q, domain.IncidentQueryables)
	return f, err
}

// parseFilter reads filter=, filter-lang= (cql2-text, the default, or
// cql2-json) and filter-crs= (only CRS84, the coordinates of every
// geometry postwatch stores and reads).
func parseFilter(q url.Values, queryables []domain.Queryable) (domain.Expr, error) {
	lang := "cql2-text"
	if v, ok := lookup(q, "filter-lang"); ok {
		lang = v
	}
	if lang != "cql2-text" && lang != "cql2-json" {
		return nil, domain.InvalidField("filter-lang", "%q is not supported; use cql2-text or cql2-json", lang)
	}
	if crs, ok := lookup(q, "filter-crs"); ok && crs != crs84 {
		return nil, domain.InvalidField("filter-crs", "%q is not supported; geometries in filters are %s", crs, crs84)
	}
	v, ok := lookup(q, "filter")
	if !ok {
		return nil, nil
	}
	if lang == "cql2-json" {
		return ParseCQL2JSON(v, queryables)
	}
	return ParseCQL(v, queryables)
}

// ParseFacilityFilter reads every items query parameter of facilities.
func ParseFacilityFilter(q url.Values) (domain.FacilityFilter, error) {
	var f domain.FacilityFilter
	var err error
	if f.Page, err = ParsePage(q); err != nil {
		return f, err
	}
	if f.BBox, f.Near, err = parseSpatial(q); err != nil {
		return f, err
	}
	// Every items operation takes datetime (OGC API – Features Part 1,
	// /req/core/fc-time-definition). A facility has no temporal geometry,
	// so it is in every result (/ats/core/fc-time-response): the value is
	// only checked.
	if v, ok := lookup(q, "datetime"); ok {
		if _, err = ParseDatetime(v); err != nil {
			return f, err
		}
	}
	if v, ok := lookup(q, "kind"); ok {
		if f.Kinds, err = domain.ParseEnumList("kind", v, domain.FacilityKinds); err != nil {
			return f, err
		}
	}
	if v, ok := lookup(q, "posture"); ok {
		if f.Postures, err = domain.ParseEnumList("posture", v, domain.Postures); err != nil {
			return f, err
		}
	}
	if v, ok := lookup(q, "country"); ok {
		if f.Countries, err = parseCountries(v); err != nil {
			return f, err
		}
	}
	if v := q.Get("q"); v != "" {
		f.Text = v
	}
	if f.Where, err = parseFilter(q, domain.FacilityQueryables); err != nil {
		return f, err
	}
	f.Where, err = withQueryableParams(f.Where, q, domain.FacilityQueryables)
	return f, err
}

func parseSpatial(q url.Values) ([]orb.Bound, *domain.Near, error) {
	var bbox []orb.Bound
	var near *domain.Near
	var err error
	if v, ok := lookup(q, "bbox"); ok {
		if bbox, err = ParseBBox(v); err != nil {
			return nil, nil, err
		}
	}
	if v, ok := lookup(q, "near"); ok {
		if q.Has("radius") && q.Get("radius") == "" {
			return nil, nil, domain.InvalidField("radius", "is empty; give meters, or leave radius out for the default %d", domain.DefaultRadius)
		}
		if near, err = ParseNear(v, q.Get("radius")); err != nil {
			return nil, nil, err
		}
	} else if q.Has("radius") {
		return nil, nil, domain.InvalidField("radius", "needs near=lon,lat")
	}
	return bbox, near, nil
}

// lookup returns a parameter that is present; present but empty is an
// error caught by the parsers, since "" is not a valid list.
func lookup(q url.Values, name string) (string, bool) {
	if !q.Has(name) {
		return "", false
	}
	return q.Get(name), true
}

// parseID reads a record id from a path in its one decimal form — "7",
// not "07" or "+7" — so that each record has one URL, and one entry in
// any cache keyed by it. Ids are positive; anything else names no record.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}
