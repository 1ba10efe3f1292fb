package api_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
)

// cqlRow is an incident as the API returns it, for evaluating filters in
// Go. Text properties the store keeps as ” when unset are "" here and NULL
// to a filter.
type cqlRow struct {
	id                    int64
	pt                    orb.Point
	typ, title, desc      string
	occurredAt            time.Time
	severity              int
	status, country       string
	facilityID            *float64
	killed, injured       int
	externalID            *string
	tags                  []string
	timePrec, locPrec     string
	version               int
	hasDesc, hasCountry   bool
	hasFacility, hasExtID bool
}

// cqlEnv is the seed data set plus rows that probe the corners of CQL2:
// case, accents, LIKE's and GLOB's special characters, quotes, day
// boundaries, points on a polygon's edge and vertex, tags and unset values.
func cqlEnv(t *testing.T) (*env, []cqlRow) {
	t.Helper()
	e := newEnv(t)
	if _, err := seeds.LoadIfEmpty(context.Background(), seeds.Services{Incidents: e.store, Facilities: e.store, Actors: e.store}); err != nil {
		t.Fatal(err)
	}
	extra := []struct {
		lon, lat float64
		props    map[string]any
	}{
		{47.5, 30.5, map[string]any{"title": "basra lowercase protest", "type": "protest", "country": "IQ", "tags": []string{"protest", "basra"}, "occurred_at": "2018-09-08T00:00:00Z"}},
		{47.5, 30.0, map[string]any{"title": "BASRA rocket on the fence", "severity": 5, "tags": []string{"rocket"}, "occurred_at": "2018-09-08T23:59:59.999999Z"}},
		{47.0, 30.0, map[string]any{"title": "Ḥalab shelling", "country": "SY", "type": "missile", "tags": []string{}, "occurred_at": "2018-09-09T00:00:00Z"}},
		{48.0, 31.0, map[string]any{"title": "Straße 50% done_x", "severity": 2, "tags": []string{"rocket", "basra", "night"}, "casualties": map[string]any{"killed": 3, "injured": 7}}},
		{44.4, 33.3, map[string]any{"title": "Alert [urgent]* ok?", "country": "IQ", "external_id": "X-1", "occurred_at": "2018-09-07T12:00:00Z"}},
		{44.38, 33.31, map[string]any{"title": "It's the consul's car", "description": "مُحَمَّد at the gate", "country": "IQ", "severity": 4, "occurred_at": "2018-10-01T00:00:00Z"}},
		{-74.0, 40.7, map[string]any{"title": "Far away", "type": "cyber", "status": "confirmed", "occurred_at": "2017-01-01T00:00:00Z"}},
		{179.5, -16.5, map[string]any{"title": "Across the antimeridian", "type": "threat", "occurred_at": "2019-03-01T00:00:00Z", "tags": []string{"pacific"}}},
	}
	for _, x := range extra {
		e.createIncident(x.lon, x.lat, x.props)
	}
	r := e.do("GET", "/collections/incidents/items?limit=10000", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	var fc struct {
		Features []struct {
			ID       int64 `json:"id"`
			Geometry struct {
				Coordinates orb.Point `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(r.Body.Bytes(), &fc); err != nil {
		t.Fatal(err)
	}
	var rows []cqlRow
	for _, f := range fc.Features {
		p := f.Properties
		str := func(k string) string { s, _ := p[k].(string); return s }
		num := func(v any) int { n, _ := v.(float64); return int(n) }
		row := cqlRow{
			id: f.ID, pt: f.Geometry.Coordinates, typ: str("type"), title: str("title"), desc: str("description"),
			severity: num(p["severity"]), status: str("status"), country: str("country"),
			timePrec: str("time_precision"), locPrec: str("location_precision"), version: num(p["version"]),
		}
		row.occurredAt, _ = time.Parse(time.RFC3339Nano, str("occurred_at"))
		row.hasDesc, row.hasCountry = row.desc != "", row.country != ""
		if v, ok := p["facility_id"].(float64); ok {
			row.facilityID, row.hasFacility = &v, true
		}
		if v, ok := p["external_id"].(string); ok {
			row.externalID, row.hasExtID = &v, true
		}
		if c, ok := p["casualties"].(map[string]any); ok {
			row.killed, row.injured = num(c["killed"]), num(c["injured"])
		}
		tags, _ := p["tags"].([]any)
		for _, tg := range tags {
			row.tags = append(row.tags, tg.(string))
		}
		rows = append(rows, row)
	}
	if len(rows) < 20 {
		t.Fatalf("only %d rows", len(rows))
	}
	return e, rows
}

// filterIDs runs an items query with a filter and returns the ids, sorted.
func (e *env) filterIDs(lang, filter string) []int64 {
	e.t.Helper()
	ids := e.ids("/collections/incidents/items?limit=10000&filter-lang=" + lang + "&filter=" + url.QueryEscape(filter))
	slices.Sort(ids)
	return ids
}

func want(rows []cqlRow, pred func(r cqlRow) bool) []int64 {
	var out []int64
	for _, r := range rows {
		if pred(r) {
			out = append(out, r.id)
		}
	}
	slices.Sort(out)
	return out
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestCQL2AgainstBruteForce runs each filter through the router and
// compares the matches with the same condition written in Go over every
// row: the Go side is the specification (OGC 21-065r2), written
// independently of the parser and the SQL.
func TestCQL2AgainstBruteForce(t *testing.T) {
	e, rows := cqlEnv(t)
	box := orb.Polygon{{{47, 30}, {48, 30}, {48, 31}, {47, 31}, {47, 30}}}
	onEdge := func(p orb.Point) bool { return planar.DistanceFrom(orb.LineString(box[0]), p) == 0 }
	inBox := func(p orb.Point) bool { return planar.PolygonContains(box, p) }
	hasTag := func(r cqlRow, tag string) bool { return slices.Contains(r.tags, tag) }
	tests := []struct {
		filter string
		pred   func(r cqlRow) bool
	}{
		// Booleans, literals on either side, precedence.
		{"TRUE", func(cqlRow) bool { return true }},
		{"FALSE", func(cqlRow) bool { return false }},
		{"NOT FALSE AND severity >= 4", func(r cqlRow) bool { return r.severity >= 4 }},
		{"3 < severity", func(r cqlRow) bool { return r.severity > 3 }},
		{"'ied' = type OR 5 <= severity", func(r cqlRow) bool { return r.typ == "ied" || r.severity >= 5 }},
		{"type = 'protest' OR type = 'riot' AND severity > 2", func(r cqlRow) bool { return r.typ == "protest" || (r.typ == "riot" && r.severity > 2) }},
		{"(type = 'protest' OR type = 'riot') AND severity > 2", func(r cqlRow) bool { return (r.typ == "protest" || r.typ == "riot") && r.severity > 2 }},
		{"NOT NOT NOT severity = 3", func(r cqlRow) bool { return r.severity != 3 }},
		{"severity = +3.0E0", func(r cqlRow) bool { return r.severity == 3 }},
		{"severity > .5e1", func(r cqlRow) bool { return r.severity > 5 }},
		{"killed > injured", func(r cqlRow) bool { return r.killed > r.injured }},
		{"1 = 1 AND 'a' < 'b'", func(cqlRow) bool { return true }},
		// Unset values are NULL: neither = nor <> holds, NOT keeps NULL.
		{"country <> 'IQ'", func(r cqlRow) bool { return r.hasCountry && r.country != "IQ" }},
		{"NOT (country = 'IQ')", func(r cqlRow) bool { return r.hasCountry && r.country != "IQ" }},
		{"country IS NULL", func(r cqlRow) bool { return !r.hasCountry }},
		{"description IS NOT NULL AND external_id IS NULL", func(r cqlRow) bool { return r.hasDesc && !r.hasExtID }},
		{"facility_id IS NOT NULL", func(r cqlRow) bool { return r.hasFacility }},
		// Escapes: '' and \' are quotes.
		{`title = 'It''s the consul\'s car'`, func(r cqlRow) bool { return r.title == "It's the consul's car" }},
		// LIKE is case-sensitive; % _ and \ escapes; GLOB's own specials are text.
		{"title LIKE 'Basra%'", func(r cqlRow) bool { return strings.HasPrefix(r.title, "Basra") }},
		{"title LIKE 'basra%'", func(r cqlRow) bool { return strings.HasPrefix(r.title, "basra") }},
		{"title NOT LIKE '%Basra%'", func(r cqlRow) bool { return !strings.Contains(r.title, "Basra") }},
		{`title LIKE '%50\%%'`, func(r cqlRow) bool { return strings.Contains(r.title, "50%") }},
		{`title LIKE '%done\_x'`, func(r cqlRow) bool { return strings.HasSuffix(r.title, "done_x") }},
		{"title LIKE '_traße%'", func(r cqlRow) bool { return strings.HasPrefix(r.title, "Straße") }},
		{"title LIKE 'Alert [urgent]* ok?'", func(r cqlRow) bool { return r.title == "Alert [urgent]* ok?" }},
		{"title LIKE '%*%'", func(r cqlRow) bool { return strings.Contains(r.title, "*") }},
		// CASEI and ACCENTI.
		{"CASEI(title) LIKE CASEI('basra%')", func(r cqlRow) bool { return strings.HasPrefix(strings.ToLower(r.title), "basra") }},
		{"CASEI(title) LIKE 'STRASSE%'", func(cqlRow) bool { return false }},
		{"CASEI(title) LIKE CASEI('STRASSE%')", func(r cqlRow) bool { return strings.HasPrefix(r.title, "Straße") }},
		{"ACCENTI(title) LIKE ACCENTI('Halab%')", func(r cqlRow) bool { return strings.HasPrefix(r.title, "Ḥalab") }},
		{"ACCENTI(CASEI(title)) = ACCENTI(CASEI('ḤALAB SHELLING'))", func(r cqlRow) bool { return r.title == "Ḥalab shelling" }},
		{"ACCENTI(description) LIKE 'محمد%'", func(r cqlRow) bool { return strings.HasPrefix(r.desc, "مُحَمَّد") }},
		{"CASEI(country) = CASEI('iq')", func(r cqlRow) bool { return r.country == "IQ" }},
		// CASEI and ACCENTI of NULL are NULL.
		{"NOT (CASEI(description) LIKE '%gate%')", func(r cqlRow) bool { return r.hasDesc && !strings.Contains(strings.ToLower(r.desc), "gate") }},
		{"ACCENTI(country) IS NULL", func(r cqlRow) bool { return !r.hasCountry }},
		// BETWEEN and IN, with dates that stand for whole days.
		{"severity BETWEEN 2 AND 4", func(r cqlRow) bool { return r.severity >= 2 && r.severity <= 4 }},
		{"severity NOT BETWEEN 2 AND 4", func(r cqlRow) bool { return r.severity < 2 || r.severity > 4 }},
		{"type IN ('protest', 'riot', 'unknown')", func(r cqlRow) bool { return r.typ == "protest" || r.typ == "riot" }},
		{"CASEI(type) NOT IN (CASEI('PROTEST'))", func(r cqlRow) bool { return r.typ != "protest" }},
		{"occurred_at = DATE('2018-09-08')", func(r cqlRow) bool { return r.occurredAt.Format(time.DateOnly) == "2018-09-08" }},
		{"occurred_at <= DATE('2018-09-08')", func(r cqlRow) bool { return r.occurredAt.Before(day("2018-09-09T00:00:00Z")) }},
		{"occurred_at > DATE('2018-09-08')", func(r cqlRow) bool { return !r.occurredAt.Before(day("2018-09-09T00:00:00Z")) }},
		{"DATE('2018-09-08') > occurred_at", func(r cqlRow) bool { return r.occurredAt.Before(day("2018-09-08T00:00:00Z")) }},
		{"occurred_at BETWEEN DATE('2018-09-07') AND DATE('2018-09-08')", func(r cqlRow) bool {
			return !r.occurredAt.Before(day("2018-09-07T00:00:00Z")) && r.occurredAt.Before(day("2018-09-09T00:00:00Z"))
		}},
		{"occurred_at IN (DATE('2018-09-09'), TIMESTAMP('2018-09-07T12:00:00Z'))", func(r cqlRow) bool {
			return r.occurredAt.Format(time.DateOnly) == "2018-09-09" || r.occurredAt.Equal(day("2018-09-07T12:00:00Z"))
		}},
		{"occurred_at >= TIMESTAMP('2018-09-08t00:00:00z')", func(r cqlRow) bool { return !r.occurredAt.Before(day("2018-09-08T00:00:00Z")) }},
		// Temporal functions on the instant occurred_at.
		{"T_BEFORE(occurred_at, TIMESTAMP('2018-09-08T00:00:00Z'))", func(r cqlRow) bool { return r.occurredAt.Before(day("2018-09-08T00:00:00Z")) }},
		{"T_AFTER(occurred_at, DATE('2018-09-08'))", func(r cqlRow) bool { return r.occurredAt.After(day("2018-09-08T23:59:59.999999Z")) }},
		{"T_EQUALS(occurred_at, TIMESTAMP('2018-09-08T00:00:00Z'))", func(r cqlRow) bool { return r.occurredAt.Equal(day("2018-09-08T00:00:00Z")) }},
		{"T_INTERSECTS(occurred_at, INTERVAL('2018-09-07', '2018-09-08'))", func(r cqlRow) bool {
			return !r.occurredAt.Before(day("2018-09-07T00:00:00Z")) && r.occurredAt.Before(day("2018-09-09T00:00:00Z"))
		}},
		{"T_DURING(occurred_at, INTERVAL('2018-09-08T00:00:00Z', '2018-09-09T00:00:00Z'))", func(r cqlRow) bool {
			return r.occurredAt.After(day("2018-09-08T00:00:00Z")) && r.occurredAt.Before(day("2018-09-09T00:00:00Z"))
		}},
		{"T_DISJOINT(occurred_at, INTERVAL('..', '2018-12-31T00:00:00Z'))", func(r cqlRow) bool { return r.occurredAt.After(day("2018-12-31T00:00:00Z")) }},
		{"T_INTERSECTS(INTERVAL('2019-01-01', '..'), occurred_at)", func(r cqlRow) bool { return !r.occurredAt.Before(day("2019-01-01T00:00:00Z")) }},
		{"T_MEETS(occurred_at, INTERVAL('2018-09-09T00:00:00Z', '..'))", func(r cqlRow) bool { return r.occurredAt.Equal(day("2018-09-09T00:00:00Z")) }},
		{"T_STARTS(occurred_at, INTERVAL('2018-09-08T00:00:00Z', '2018-09-10T00:00:00Z'))", func(r cqlRow) bool { return r.occurredAt.Equal(day("2018-09-08T00:00:00Z")) }},
		{"T_FINISHES(occurred_at, INTERVAL('..', '2018-09-08T23:59:59.999999Z'))", func(r cqlRow) bool { return r.occurredAt.Equal(day("2018-09-08T23:59:59.999999Z")) }},
		{"T_CONTAINS(INTERVAL('2018-09-01', '2018-09-30'), occurred_at)", func(r cqlRow) bool {
			return r.occurredAt.After(day("2018-09-01T00:00:00Z")) && r.occurredAt.Before(day("2018-09-30T23:59:59.999999Z"))
		}},
		{"T_CONTAINS(occurred_at, TIMESTAMP('2018-09-08T00:00:00Z'))", func(cqlRow) bool { return false }},
		{"T_DURING(INTERVAL(occurred_at, occurred_at), INTERVAL('2018-09-05', '2018-09-06'))", func(r cqlRow) bool {
			return r.occurredAt.After(day("2018-09-05T00:00:00Z")) && r.occurredAt.Before(day("2018-09-06T23:59:59.999999Z"))
		}},
		{"T_OVERLAPS(INTERVAL(occurred_at, '..'), INTERVAL('2018-09-08T00:00:00Z', '..'))", func(cqlRow) bool { return false }},
		{"T_STARTEDBY(INTERVAL(occurred_at, '..'), INTERVAL('2018-09-09T00:00:00Z', '2020-01-01T00:00:00Z'))", func(r cqlRow) bool { return r.occurredAt.Equal(day("2018-09-09T00:00:00Z")) }},
		// Spatial functions on the point geometry.
		{"S_INTERSECTS(geometry, POLYGON((47 30, 48 30, 48 31, 47 31, 47 30)))", func(r cqlRow) bool { return inBox(r.pt) }},
		{"S_WITHIN(geometry, POLYGON((47 30, 48 30, 48 31, 47 31, 47 30)))", func(r cqlRow) bool { return inBox(r.pt) && !onEdge(r.pt) }},
		{"S_CONTAINS(POLYGON((47 30, 48 30, 48 31, 47 31, 47 30)), geometry)", func(r cqlRow) bool { return inBox(r.pt) && !onEdge(r.pt) }},
		{"S_TOUCHES(geometry, POLYGON((47 30, 48 30, 48 31, 47 31, 47 30)))", func(r cqlRow) bool { return onEdge(r.pt) }},
		{"S_DISJOINT(geometry, POLYGON((47 30, 48 30, 48 31, 47 31, 47 30)))", func(r cqlRow) bool { return !inBox(r.pt) }},
		{"S_INTERSECTS(geometry, BBOX(47, 30, 48, 31))", func(r cqlRow) bool { return inBox(r.pt) }},
		{"S_INTERSECTS(geometry, BBOX(170, -20, -170, 0))", func(r cqlRow) bool { return (r.pt[0] >= 170 || r.pt[0] <= -170) && r.pt[1] >= -20 && r.pt[1] <= 0 }},
		{"S_EQUALS(geometry, POINT(47.5 30.5))", func(r cqlRow) bool { return r.pt == orb.Point{47.5, 30.5} }},
		{"S_CONTAINS(geometry, MULTIPOINT((47.5 30.5), (47.5 30.5)))", func(r cqlRow) bool { return r.pt == orb.Point{47.5, 30.5} }},
		{"S_INTERSECTS(geometry, LINESTRING(47 30, 49 30))", func(r cqlRow) bool { return r.pt[1] == 30 && r.pt[0] >= 47 && r.pt[0] <= 49 }},
		{"S_TOUCHES(geometry, LINESTRING(47 30, 49 30))", func(r cqlRow) bool { return r.pt == orb.Point{47, 30} }},
		{"S_WITHIN(geometry, LINESTRING(47 30, 49 30))", func(r cqlRow) bool { return r.pt[1] == 30 && r.pt[0] > 47 && r.pt[0] < 49 }},
		{"S_INTERSECTS(geometry, MULTIPOLYGON(((47 30, 48 30, 48 31, 47 31, 47 30)), ((44 33, 45 33, 45 34, 44 34, 44 33))))", func(r cqlRow) bool {
			return inBox(r.pt) || (r.pt[0] >= 44 && r.pt[0] <= 45 && r.pt[1] >= 33 && r.pt[1] <= 34)
		}},
		{"S_INTERSECTS(geometry, POLYGON((46 29, 49 29, 49 32, 46 32, 46 29), (47 30, 48 30, 48 31, 47 31, 47 30)))", func(r cqlRow) bool {
			return r.pt[0] >= 46 && r.pt[0] <= 49 && r.pt[1] >= 29 && r.pt[1] <= 32 && (!inBox(r.pt) || onEdge(r.pt))
		}},
		{"S_CROSSES(geometry, LINESTRING(47 30, 49 30)) OR S_OVERLAPS(geometry, BBOX(-180, -90, 180, 90))", func(cqlRow) bool { return false }},
		{"S_INTERSECTS(geometry, POLYGON EMPTY) OR S_WITHIN(geometry, GEOMETRYCOLLECTION EMPTY)", func(cqlRow) bool { return false }},
		{"S_DISJOINT(geometry, POINT Z EMPTY) AND severity = 5", func(r cqlRow) bool { return r.severity == 5 }},
		{"S_INTERSECTS(geometry, GEOMETRYCOLLECTION (POINT (47.5 30.5), LINESTRING (44 33, 45 34)))", func(r cqlRow) bool {
			return r.pt == orb.Point{47.5, 30.5} || (r.pt[0] >= 44 && r.pt[0] <= 45 && r.pt[0]-44 == r.pt[1]-33)
		}},
		// Array functions on tags, as sets.
		{"A_CONTAINS(tags, ('rocket', 'basra'))", func(r cqlRow) bool { return hasTag(r, "rocket") && hasTag(r, "basra") }},
		{"A_CONTAINEDBY(tags, ('rocket', 'basra', 'protest'))", func(r cqlRow) bool {
			for _, tg := range r.tags {
				if tg != "rocket" && tg != "basra" && tg != "protest" {
					return false
				}
			}
			return true
		}},
		{"A_OVERLAPS(tags, ('night', 'pacific'))", func(r cqlRow) bool { return hasTag(r, "night") || hasTag(r, "pacific") }},
		{"A_EQUALS(tags, ('basra', 'protest', 'basra'))", func(r cqlRow) bool { return len(r.tags) == 2 && hasTag(r, "basra") && hasTag(r, "protest") }},
		{"A_EQUALS(('rocket'), tags)", func(r cqlRow) bool { return len(r.tags) == 1 && hasTag(r, "rocket") }},
		{"A_CONTAINS(('rocket', 'basra', 'night', 'x'), tags) AND A_OVERLAPS(tags, ('night'))", func(r cqlRow) bool { return len(r.tags) == 3 && hasTag(r, "night") }},
		{"A_CONTAINEDBY(tags, ())", func(r cqlRow) bool { return len(r.tags) == 0 }},
		// Property names quoted or plain, keywords in any case.
		{`"type" = 'ied' and "severity" >= 3 or not "status" <> 'confirmed'`, func(r cqlRow) bool { return (r.typ == "ied" && r.severity >= 3) || r.status == "confirmed" }},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got := e.in(t).filterIDs("cql2-text", tt.filter)
			if w := want(rows, tt.pred); !slices.Equal(got, w) {
				t.Fatalf("got %v\nwant %v", got, w)
			}
		})
	}
	// The brute-force side must have found something to compare for most
	// filters, or the table proves little.
	empty := 0
	for _, tt := range tests {
		if len(want(rows, tt.pred)) == 0 {
			empty++
		}
	}
	if empty > 10 {
		t.Errorf("%d filters match no row; the data does not exercise them", empty)
	}
}

// TestCQL2Errors: bad filters are 400s naming the field, with a message
// that says what is wrong.
func TestCQL2Errors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		lang, filter, field, message string
	}{
		{"cql2-text", "colour = 'red'", "filter", `colour\" is not a queryable property`},
		{"cql2-text", "avg(severity) > 3", "filter", "function avg is not supported"},
		{"cql2-text", "S_BUFFER(geometry, 10)", "filter", "function S_BUFFER is not supported"},
		{"cql2-text", "Foo(geometry) = TRUE", "filter", "function Foo is not supported"},
		{"cql2-text", "T_SOON(occurred_at, DATE('2018-01-01'))", "filter", "function T_SOON is not supported"},
		// An unsupported function is named as such whatever its arguments,
		// not refused for their number as though it were supported.
		{"cql2-text", "S_DWITHIN(geometry, POINT(47.66 30.55), 10, meters)", "filter", "function S_DWITHIN is not supported"},
		{"cql2-text", "T_SOON(occurred_at)", "filter", "function T_SOON is not supported"},
		{"cql2-text", "A_FIRST(tags, ('a'), ('b'))", "filter", "function A_FIRST is not supported"},
		{"cql2-json", `{"op": "s_dwithin", "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [47.66, 30.55]}, 10, "meters"]}`, "filter", "function s_dwithin is not supported"},
		{"cql2-text", "S_INTERSECTS(geometry)", "filter", "S_INTERSECTS takes 2 arguments, not 1"},
		{"cql2-text", "T_AFTER(occurred_at)", "filter", "T_AFTER takes 2 arguments, not 1"},
		{"cql2-text", "A_CONTAINS(tags)", "filter", "A_CONTAINS takes 2 arguments, not 1"},
		{"cql2-text", "S_INTERSECTS(geometry, POLYGON((47 30, 48 30, 48 31, 47 31)))", "filter", "not closed"},
		{"cql2-text", "S_INTERSECTS(geometry, POLYGON((47 30, 48 30, 47 30)))", "filter", "at least four points"},
		{"cql2-text", "S_INTERSECTS(geometry, POLYGON((47 30, 48 x)))", "filter", "not valid WKT"},
		{"cql2-text", "S_INTERSECTS(geometry, POINT(90 180))", "filter", "longitude and latitude"},
		{"cql2-text", "S_INTERSECTS(geometry, POINT(1 2)", "filter", "missing )"},
		{"cql2-text", "S_INTERSECTS(geometry, POLYGON((1 2, 3 4)", "filter", "unbalanced"},
		{"cql2-text", "severity-1 > 0", "filter", "arithmetic is not supported"},
		{"cql2-text", "severity * 2 > 0", "filter", "arithmetic is not supported"},
		{"cql2-text", "S_INTERSECTS(POINT(1 2), POINT(1 2))", "filter", "property geometry"},
		{"cql2-text", "S_INTERSECTS(geometry, 'x')", "filter", "compares geometries"},
		{"cql2-text", "T_AFTER(occurred_at, INTERVAL('2018-09-08', '2018-09-01'))", "filter", "before it starts"},
		{"cql2-text", "T_AFTER(occurred_at, 3)", "filter", "instants and intervals"},
		{"cql2-text", "occurred_at > 'yesterday'", "filter", "cannot be compared"},
		{"cql2-text", "occurred_at > TIMESTAMP('2018-09-08')", "filter", "RFC 3339"},
		{"cql2-text", "A_CONTAINS(tags, (1, 2))", "filter", "tags are texts"},
		{"cql2-text", "A_CONTAINS(tags, tags)", "filter", "list of values"},
		{"cql2-text", "tags = 'x'", "filter", "cannot be compared"},
		{"cql2-text", "tags = tags", "filter", "A_ functions"},
		{"cql2-text", "type LIKE 3", "filter", "LIKE"},
		{"cql2-text", "severity = 'high'", "filter", "cannot be compared"},
		{"cql2-text", "severity", "filter", "not a predicate"},
		{"cql2-text", "'abc'", "filter", "not a predicate"},
		{"cql2-text", "CASEI(title)", "filter", "not a predicate"},
		{"cql2-text", "severity + 1 > 3", "filter", ""},
		{"cql2-text", "(type = 'ied'", "filter", "missing )"},
		{"cql2-text", "type = 'ied' AND", "filter", "unexpected end"},
		{"cql2-text", "type == 'ied'", "filter", ""},
		{"cql2-text", "'unterminated", "filter", "unterminated"},
		{"cql2-text", strings.Repeat("NOT ", 997) + "TRUE", "filter", "nests deeper than 64"},
		{"cql2-text", strings.Repeat("(", 70) + "TRUE" + strings.Repeat(")", 70), "filter", "nests deeper"},
		{"cql2-text", "type IN (" + strings.TrimSuffix(strings.Repeat("'a',", 1200), ",") + ")", "filter", "more than 1000"},
		{"cql2-text", strings.Repeat("x", api.MaxFilterLen+1), "filter", "longer than"},
		{"cql2-json", `{"op": "=", "args": [{"property": "colour"}, 1]}`, "filter", `colour\" is not a queryable property`},
		{"cql2-json", `{"op": "buffer", "args": []}`, "filter", "function buffer is not supported"},
		{"cql2-json", `{"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1]]]}]}`, "filter", "not closed"},
		{"cql2-json", `{"op": "t_after", "args": [{"property": "occurred_at"}, {"interval": ["2018-09-08", "2018-09-01"]}]}`, "filter", "before it starts"},
		{"cql2-json", `{"op": "and", "args": [true]}`, "filter", "at least two"},
		{"cql2-json", `{"op": "=", "args": [{"property": "severity"}]}`, "filter", "takes 2 arguments"},
		{"cql2-json", `{"op": "=", "args": [{"property": "severity"}, null]}`, "filter", "null"},
		{"cql2-json", `{"property": "severity", "x": 1}`, "filter", "no other members"},
		{"cql2-json", `not json`, "filter", "not CQL2 JSON"},
		{"cql2-json", `true false`, "filter", "more than one"},
		{"cql2-json", strings.Repeat(`{"op":"not","args":[`, 70) + "true" + strings.Repeat("]}", 70), "filter", "nests deeper"},
		{"cql2-xml", "TRUE", "filter-lang", "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.lang+" "+truncateName(tt.filter), func(t *testing.T) {
			r := e.in(t).do("GET", "/collections/incidents/items?filter-lang="+tt.lang+"&filter="+url.QueryEscape(tt.filter), nil, domain.RoleAnalyst)
			r.wantProblem(http.StatusBadRequest, tt.field)
			if !strings.Contains(r.Body.String(), tt.message) {
				t.Fatalf("problem does not say %q: %s", tt.message, r.Body.String())
			}
		})
	}
	e.do("GET", "/collections/incidents/items?filter-crs=EPSG:4326&filter=TRUE", nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "filter-crs")
	e.do("GET", "/collections/incidents/items?filter-crs="+url.QueryEscape("http://www.opengis.net/def/crs/OGC/1.3/CRS84")+"&filter=TRUE", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
}

func truncateName(s string) string {
	if len(s) > 60 {
		return s[:60]
	}
	return s
}

// TestCQL2LongFlatFilters: a flat OR of many comparisons stays within
// SQLite's expression depth (the compiler nests it as a balanced tree).
func TestCQL2LongFlatFilters(t *testing.T) {
	e := newEnv(t)
	id := e.createIncident(47.5, 30.5, map[string]any{"severity": 3})
	var or, and []string
	for i := range 300 {
		or = append(or, "severity = "+strings.Repeat("1", 1+i%3))
		and = append(and, "severity <> 7")
	}
	or = append(or, "severity = 3")
	for _, f := range []string{strings.Join(or, " OR "), strings.Join(and, " AND ")} {
		if got := e.ids("/collections/incidents/items?filter=" + url.QueryEscape(f)); !slices.Equal(got, []int64{id}) {
			t.Errorf("got %v, want [%d]", got, id)
		}
	}
}

// TestCQL2Corpus runs the examples of the OGC CQL2 standard (OGC 21-065r2,
// schema/examples, with their properties mapped onto incidents'; see
// testdata/cql2/README.md) in both encodings: each text example and its
// JSON twin select the same incidents, and those are the incidents the
// checked expression selects when evaluated in Go over every row.
func TestCQL2Corpus(t *testing.T) {
	e, rows := cqlEnv(t)
	texts, err := filepath.Glob("testdata/cql2/text/*.txt")
	if err != nil || len(texts) < 60 {
		t.Fatalf("corpus has %d text examples: %v", len(texts), err)
	}
	for _, path := range texts {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			expr, err := api.ParseCQL(string(text), domain.IncidentQueryables)
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			got := e.in(t).filterIDs("cql2-text", string(text))
			if w := want(rows, func(r cqlRow) bool { return evalCQL(expr, r) == cqlTrue }); !slices.Equal(got, w) {
				t.Fatalf("%s\ngot %v\nwant %v", text, got, w)
			}
			js, err := os.ReadFile(filepath.Join("testdata/cql2/json", strings.TrimSuffix(name, "-alt01")+".json"))
			if os.IsNotExist(err) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fromJSON := e.in(t).filterIDs("cql2-json", string(js)); !slices.Equal(fromJSON, got) {
				t.Fatalf("cql2-json twin selects %v, cql2-text %v", fromJSON, got)
			}
		})
	}
	// The standard's examples this API refuses, each for a stated reason.
	refused, err := os.ReadFile("testdata/cql2/refused.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(refused)), "\n") {
		filter, reason, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("refused.txt line %q has no tab", line)
		}
		t.Run("refused "+truncateName(filter), func(t *testing.T) {
			r := e.in(t).do("GET", "/collections/incidents/items?filter="+url.QueryEscape(filter), nil, domain.RoleAnalyst)
			r.wantProblem(http.StatusBadRequest, "filter")
			if !strings.Contains(r.Body.String(), reason) {
				t.Fatalf("problem does not say %q: %s", reason, r.Body.String())
			}
		})
	}
}

// Three-valued logic for evalCQL.
type truth int

const (
	cqlFalse truth = iota
	cqlTrue
	cqlNull
)

func truthOf(b bool) truth {
	if b {
		return cqlTrue
	}
	return cqlFalse
}

// evalCQL evaluates a checked expression over a row by brute force, with
// NULL for unset values as CQL2 requires.
func evalCQL(e domain.Expr, r cqlRow) truth {
	switch e := e.(type) {
	case domain.Bool:
		return truthOf(e.Value)
	case domain.And:
		out := cqlTrue
		for _, o := range e.Operands {
			switch evalCQL(o, r) {
			case cqlFalse:
				return cqlFalse
			case cqlNull:
				out = cqlNull
			}
		}
		return out
	case domain.Or:
		out := cqlFalse
		for _, o := range e.Operands {
			switch evalCQL(o, r) {
			case cqlTrue:
				return cqlTrue
			case cqlNull:
				out = cqlNull
			}
		}
		return out
	case domain.Not:
		switch evalCQL(e.Operand, r) {
		case cqlTrue:
			return cqlFalse
		case cqlFalse:
			return cqlTrue
		}
		return cqlNull
	case domain.Compare:
		a, b := operandValue(e.Left, r), operandValue(e.Right, r)
		if a == nil || b == nil {
			return cqlNull
		}
		c := compareAny(a, b)
		return truthOf(map[string]bool{"=": c == 0, "<>": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[e.Op])
	case domain.Like:
		v := operandValue(e.Value, r)
		if v == nil {
			return cqlNull
		}
		return truthOf(likeMatch(e.Pattern, v.(string)))
	case domain.In:
		v := operandValue(e.Value, r)
		if v == nil {
			return cqlNull
		}
		for _, o := range e.List {
			if compareAny(v, operandValue(o, r)) == 0 {
				return cqlTrue
			}
		}
		return cqlFalse
	case domain.IsNull:
		return truthOf(operandValue(e.Value, r) == nil)
	case domain.Spatial:
		return truthOf(spatialHolds(e.Op, r.pt, e.Geometry))
	case domain.ArrayPredicate:
		sub := func(a, b []string) bool {
			for _, x := range a {
				if !slices.Contains(b, x) {
					return false
				}
			}
			return true
		}
		switch e.Op {
		case "equals":
			return truthOf(sub(r.tags, e.Values) && sub(e.Values, r.tags))
		case "contains":
			return truthOf(sub(e.Values, r.tags))
		case "containedby":
			return truthOf(sub(r.tags, e.Values))
		}
		for _, x := range r.tags {
			if slices.Contains(e.Values, x) {
				return cqlTrue
			}
		}
		return cqlFalse
	}
	panic("unknown expression")
}

func operandValue(o domain.Operand, r cqlRow) any {
	switch o := o.(type) {
	case domain.Literal:
		return o.Value
	case domain.Fold:
		v := operandValue(o.Arg, r)
		if v == nil {
			return nil
		}
		if o.Func == "casei" {
			return domain.CaseFold(v.(string))
		}
		return domain.StripAccents(v.(string))
	case domain.Property:
		str := func(s string, set bool) any {
			if !set {
				return nil
			}
			return s
		}
		switch o.Name {
		case "type":
			return r.typ
		case "title":
			return r.title
		case "description":
			return str(r.desc, r.hasDesc)
		case "occurred_at":
			return r.occurredAt
		case "time_precision":
			return r.timePrec
		case "location_precision":
			return r.locPrec
		case "severity":
			return float64(r.severity)
		case "status":
			return r.status
		case "country":
			return str(r.country, r.hasCountry)
		case "facility_id":
			if r.facilityID == nil {
				return nil
			}
			return *r.facilityID
		case "external_id":
			if r.externalID == nil {
				return nil
			}
			return *r.externalID
		case "killed":
			return float64(r.killed)
		case "injured":
			return float64(r.injured)
		case "version":
			return float64(r.version)
		}
	}
	panic("unknown operand")
}

func compareAny(a, b any) int {
	switch a := a.(type) {
	case string:
		return strings.Compare(a, b.(string))
	case float64:
		bf := b.(float64)
		switch {
		case a < bf:
			return -1
		case a > bf:
			return 1
		}
		return 0
	case time.Time:
		return a.Compare(b.(time.Time))
	}
	panic("uncomparable")
}

// likeMatch is LIKE by regular expression: % any run, _ one character,
// \ escapes; case-sensitive.
func likeMatch(pattern, s string) bool {
	var b strings.Builder
	b.WriteString("(?s)^")
	escaped := false
	for _, c := range pattern {
		switch {
		case escaped:
			b.WriteString(regexp.QuoteMeta(string(c)))
			escaped = false
		case c == '\\':
			escaped = true
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return regexp.MustCompile(b.String() + "$").MatchString(s)
}

// spatialHolds decides a spatial function for a point with orb's planar
// distance and containment, independently of geo.Locate.
func spatialHolds(op string, p orb.Point, g orb.Geometry) bool {
	var onBoundary, inside bool
	var walk func(g orb.Geometry)
	walk = func(g orb.Geometry) {
		switch g := g.(type) {
		case orb.Point:
			inside = inside || g == p
		case orb.MultiPoint:
			inside = inside || slices.Contains(g, p)
		case orb.LineString:
			end := g[0] != g[len(g)-1] && (p == g[0] || p == g[len(g)-1])
			onBoundary = onBoundary || end
			inside = inside || (!end && planar.DistanceFrom(g, p) == 0)
		case orb.MultiLineString:
			for _, l := range g {
				walk(l)
			}
		case orb.Polygon:
			edge := false
			for _, ring := range g {
				edge = edge || planar.DistanceFrom(orb.LineString(ring), p) == 0
			}
			onBoundary = onBoundary || edge
			inside = inside || (!edge && planar.PolygonContains(g, p))
		case orb.MultiPolygon:
			for _, poly := range g {
				walk(poly)
			}
		case orb.Collection:
			for _, m := range g {
				walk(m)
			}
		}
	}
	walk(g)
	if inside {
		onBoundary = false
	}
	switch op {
	case "intersects":
		return inside || onBoundary
	case "disjoint":
		return !inside && !onBoundary
	case "within":
		return inside
	case "touches":
		return onBoundary
	case "equals", "contains":
		pts := false
		switch g := g.(type) {
		case orb.Point:
			pts = true
		case orb.MultiPoint:
			pts = !slices.ContainsFunc(g, func(q orb.Point) bool { return q != g[0] })
		}
		return pts && inside
	}
	return false
}

// TestCQL2FoldFunctions pins CASEI's full case folding and ACCENTI's
// stripping of marks.
func TestCQL2FoldFunctions(t *testing.T) {
	for _, tt := range []struct{ fn, a, b string }{
		{"casei", "Straße", "STRASSE"},
		{"casei", "ΟΔΟΣ", "οδος"},
		{"casei", "BASRA", "basra"},
		{"accenti", "débárquér", "debarquer"},
		{"accenti", "Ḥalab", "Halab"},
		{"accenti", "مُحَمَّد", "محمد"},
	} {
		if domain.ApplyFold(tt.fn, tt.a) != domain.ApplyFold(tt.fn, tt.b) {
			t.Errorf("%s(%q) = %q, %s(%q) = %q", tt.fn, tt.a, domain.ApplyFold(tt.fn, tt.a), tt.fn, tt.b, domain.ApplyFold(tt.fn, tt.b))
		}
	}
	if domain.CaseFold("Basra") == "Basra" || domain.StripAccents("Basra") != "Basra" {
		t.Error("folding changes what it must and keeps what it must")
	}
}

// TestCQL2Conformance: /conformance declares each CQL2 class postwatch
// implements, each proven here by one filter of the class through the
// router (the tables above hold the rest), and /queryables lists the
// geometry and tags the spatial and array functions take.
func TestCQL2Conformance(t *testing.T) {
	e := newEnv(t)
	id := e.createIncident(47.5, 30.5, map[string]any{"title": "Basra", "tags": []string{"a"}})
	r := e.do("GET", "/conformance", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	declared := map[string]bool{}
	for _, c := range r.json()["conformsTo"].([]any) {
		declared[c.(string)] = true
	}
	for class, filter := range map[string]string{
		"cql2-text":                     "TRUE",
		"cql2-json":                     `{"op":"=","args":[{"property":"title"},"Basra"]}`,
		"basic-cql2":                    "'Basra' = title",
		"advanced-comparison-operators": "title LIKE 'B_sra' AND severity BETWEEN 1 AND 5 AND type IN ('indirect_fire')",
		"case-insensitive-comparison":   "CASEI(title) = CASEI('BASRA')",
		"accent-insensitive-comparison": "ACCENTI(title) = ACCENTI('Bäsra')",
		"basic-spatial-functions":       "S_INTERSECTS(geometry, BBOX(47, 30, 48, 31))",
		"basic-spatial-functions-plus":  "S_INTERSECTS(geometry, POLYGON Z ((47 30 0, 48 30 0, 48 31 0, 47 30 0)))",
		"spatial-functions":             "S_WITHIN(geometry, MULTIPOLYGON(((47 30, 48 30, 48 31, 47 31, 47 30))))",
		"temporal-functions":            "T_DURING(occurred_at, INTERVAL('2018-01-01', '..'))",
		"array-functions":               "A_CONTAINEDBY(tags, ('a', 'b'))",
	} {
		uri := "http://www.opengis.net/spec/cql2/1.0/conf/" + class
		if !declared[uri] {
			t.Errorf("/conformance does not declare %s", uri)
		}
		lang := "cql2-text"
		if class == "cql2-json" {
			lang = class
		}
		if got := e.filterIDs(lang, filter); !slices.Equal(got, []int64{id}) {
			t.Errorf("%s: %s selects %v, want [%d]", class, filter, got, id)
		}
	}
	props := e.do("GET", "/collections/incidents/queryables", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()["properties"].(map[string]any)
	if g := dig(props, "geometry", "format"); g != "geometry-point" {
		t.Errorf("queryable geometry has format %v", g)
	}
	if a := dig(props, "tags", "items", "type"); a != "string" {
		t.Errorf("queryable tags has items of type %v", a)
	}
}

// TestCQL2RandomCombinations joins predicates at random with AND, OR and
// NOT and compares what the router selects with the three-valued Go
// evaluation of the checked expression: NULLs (rows without a country or
// description) must propagate through NOT and OR exactly as in SQL.
func TestCQL2RandomCombinations(t *testing.T) {
	e, rows := cqlEnv(t)
	atoms := []string{
		"country = 'IQ'", "country <> 'SY'", "description IS NULL", "CASEI(description) LIKE '%gate%'",
		"severity >= 3", "3 > severity", "type IN ('protest', 'riot')", "title LIKE 'Basra%'",
		"ACCENTI(title) LIKE '%Halab%'", "external_id = 'X-1'", "facility_id > 0", "killed < injured",
		"occurred_at < DATE('2018-09-08')", "T_DURING(occurred_at, INTERVAL('2018-09-05', '2018-09-10'))",
		"S_INTERSECTS(geometry, BBOX(44, 33, 45, 34))", "S_WITHIN(geometry, POLYGON((47 30, 48 30, 48 31, 47 31, 47 30)))",
		"A_OVERLAPS(tags, ('rocket', 'protest'))", "A_CONTAINEDBY(tags, ('basra', 'rocket'))", "TRUE", "FALSE",
	}
	rnd := rand.New(rand.NewPCG(2018, 9))
	var gen func(depth int) string
	gen = func(depth int) string {
		if depth == 0 || rnd.IntN(3) == 0 {
			return atoms[rnd.IntN(len(atoms))]
		}
		switch rnd.IntN(3) {
		case 0:
			return "NOT (" + gen(depth-1) + ")"
		case 1:
			return "(" + gen(depth-1) + " AND " + gen(depth-1) + ")"
		}
		return "(" + gen(depth-1) + " OR " + gen(depth-1) + ")"
	}
	for range 150 {
		filter := gen(4)
		expr, err := api.ParseCQL(filter, domain.IncidentQueryables)
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		got := e.filterIDs("cql2-text", filter)
		if w := want(rows, func(r cqlRow) bool { return evalCQL(expr, r) == cqlTrue }); !slices.Equal(got, w) {
			t.Fatalf("%s\ngot %v\nwant %v", filter, got, w)
		}
	}
}
