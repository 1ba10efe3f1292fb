package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
)

// badInput is a request that must be refused with a problem naming field.
type badInput struct {
	name    string
	body    any // a string or []byte is sent as is, anything else as JSON
	headers []string
	status  int    // 400 when zero
	field   string // the field errors[] must name; "" when none applies
}

// withGeometry is a valid incident with its geometry replaced.
func withGeometry(g any) map[string]any {
	f := incidentJSON(44.36, 33.31, nil)
	f["geometry"] = g
	return f
}

func withoutKey(f map[string]any, key string) map[string]any {
	delete(f, key)
	return f
}

// validIncidentText is a valid incident as JSON text, for edits at the byte level.
func validIncidentText() string {
	b, _ := json.Marshal(incidentJSON(44.36, 33.31, nil))
	return string(b)
}

// withCRS gives a feature a GeoJSON 2008 named crs member.
func withCRS(f map[string]any, name string) map[string]any {
	f["crs"] = map[string]any{"type": "name", "properties": map[string]any{"name": name}}
	return f
}

// nested is JSON nested depth arrays deep.
func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// oversized is a valid incident whose description pushes the body over MaxBodyBytes.
func oversized() []byte {
	b, _ := json.Marshal(incidentJSON(44.36, 33.31, map[string]any{"description": strings.Repeat("a", api.MaxBodyBytes)}))
	return b
}

// badIncidents are bodies POST /collections/incidents/items must refuse.
func badIncidents() []badInput {
	pt := func(coords ...any) map[string]any { return map[string]any{"type": "Point", "coordinates": coords} }
	props := func(p map[string]any) map[string]any { return incidentJSON(44.36, 33.31, p) }
	actor := func(role string) []map[string]any { return []map[string]any{{"actor_id": "kh", "role": role}} }
	valid := validIncidentText()
	return []badInput{
		// geometry
		{name: "latitude 95", body: withGeometry(pt(44.36, 95)), field: "geometry.coordinates"},
		{name: "latitude -90.5", body: withGeometry(pt(44.36, -90.5)), field: "geometry.coordinates"},
		{name: "longitude 200", body: withGeometry(pt(200, 33.31)), field: "geometry.coordinates"},
		{name: "longitude -180.1", body: withGeometry(pt(-180.1, 33.31)), field: "geometry.coordinates"},
		{name: "LineString geometry", body: withGeometry(map[string]any{"type": "LineString", "coordinates": [][]float64{{44, 33}, {45, 34}}}), field: "geometry.type"},
		{name: "Polygon geometry", body: withGeometry(map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{44, 33}, {45, 34}, {45, 33}, {44, 33}}}}), field: "geometry.type"},
		{name: "unknown geometry type", body: withGeometry(map[string]any{"type": "Blob", "coordinates": []float64{44, 33}}), field: "geometry.type"},
		{name: "geometry without type", body: withGeometry(map[string]any{"coordinates": []float64{44, 33}}), field: "geometry.type"},
		{name: "missing geometry", body: withoutKey(incidentJSON(44.36, 33.31, nil), "geometry"), field: "geometry"},
		{name: "null geometry", body: withGeometry(nil), field: "geometry"},
		{name: "geometry as a string", body: withGeometry("POINT(44 33)"), field: "geometry"},
		{name: "coordinates as strings", body: withGeometry(pt("44.36", "33.31")), field: "geometry.coordinates"},
		{name: "one coordinate", body: withGeometry(pt(44.36)), field: "geometry.coordinates"},
		{name: "no coordinates", body: withGeometry(map[string]any{"type": "Point"}), field: "geometry.coordinates"},
		{name: "coordinates as an object", body: withGeometry(map[string]any{"type": "Point", "coordinates": map[string]any{"lon": 44}}), field: "geometry.coordinates"},
		{name: "NaN as a coordinate", body: strings.Replace(valid, "44.36", "NaN", 1), field: "body"},
		{name: "Infinity as a coordinate", body: strings.Replace(valid, "44.36", "Infinity", 1), field: "body"},
		{name: "huge exponent coordinate", body: strings.Replace(valid, "44.36", "1e400", 1), field: "geometry.coordinates"},

		// the Feature envelope
		{name: "type not Feature", body: func() any { f := incidentJSON(44.36, 33.31, nil); f["type"] = "FeatureCollection"; return f }(), field: "type"},
		{name: "missing properties", body: withoutKey(incidentJSON(44.36, 33.31, nil), "properties"), field: "properties"},
		{name: "properties as an array", body: func() any { f := incidentJSON(44.36, 33.31, nil); f["properties"] = []int{1}; return f }(), field: "properties"},
		{name: "unknown top-level member", body: func() any { f := incidentJSON(44.36, 33.31, nil); f["crs"] = "EPSG:4326"; return f }(), field: "crs"},

		// required properties
		{name: "missing type", body: props(map[string]any{"type": nil}), field: "properties.type"},
		{name: "missing title", body: props(map[string]any{"title": nil}), field: "properties.title"},
		{name: "blank title", body: props(map[string]any{"title": "   "}), field: "properties.title"},
		{name: "missing occurred_at", body: props(map[string]any{"occurred_at": nil}), field: "properties.occurred_at"},

		// enums
		{name: "type rocket", body: props(map[string]any{"type": "rocket"}), field: "properties.type"},
		{name: "type in capitals", body: props(map[string]any{"type": "IED"}), field: "properties.type"},
		{name: "status rumour", body: props(map[string]any{"status": "rumour"}), field: "properties.status"},
		{name: "time_precision week", body: props(map[string]any{"time_precision": "week"}), field: "properties.time_precision"},
		{name: "location_precision street", body: props(map[string]any{"location_precision": "street"}), field: "properties.location_precision"},
		{name: "actor role victim", body: props(map[string]any{"actors": actor("victim")}), field: "properties.actors[0].role"},
		{name: "actor without id", body: props(map[string]any{"actors": []map[string]any{{"role": "perpetrator"}}}), field: "properties.actors[0].actor_id"},
		{name: "unknown member in an actor", body: props(map[string]any{"actors": []map[string]any{{"actor_id": "kh", "role": "target", "colour": "red"}}}), field: "properties.actors[0].colour"},
		{name: "actor role as a number", body: props(map[string]any{"actors": []map[string]any{{"actor_id": "kh", "role": 1}}}), field: "properties.actors[0].role"},
		{name: "actors as a string", body: props(map[string]any{"actors": "kh"}), field: "properties.actors"},
		{name: "type as a number", body: props(map[string]any{"type": 3}), field: "properties.type"},

		// numbers
		{name: "severity 0", body: props(map[string]any{"severity": 0}), field: "properties.severity"},
		{name: "severity 6", body: props(map[string]any{"severity": 6}), field: "properties.severity"},
		{name: "severity -1", body: props(map[string]any{"severity": -1}), field: "properties.severity"},
		{name: "severity as a string", body: props(map[string]any{"severity": "3"}), field: "properties.severity"},
		{name: "severity 2.5", body: props(map[string]any{"severity": 2.5}), field: "properties.severity"},
		{name: "severity beyond int64", body: props(map[string]any{"severity": json.Number("99999999999999999999")}), field: "properties.severity"},
		{name: "casualties.killed -1", body: props(map[string]any{"casualties": map[string]any{"killed": -1}}), field: "properties.casualties.killed"},
		{name: "casualties.killed many", body: props(map[string]any{"casualties": map[string]any{"killed": "many"}}), field: "properties.casualties.killed"},
		{name: "casualties.killed past any event", body: props(map[string]any{"casualties": map[string]any{"killed": 99999999999}}), field: "properties.casualties.killed"},
		{name: "casualties.injured past 32 bits", body: props(map[string]any{"casualties": map[string]any{"injured": 1 << 31}}), field: "properties.casualties.injured"},
		{name: "casualties.injured -3", body: props(map[string]any{"casualties": map[string]any{"injured": -3}}), field: "properties.casualties.injured"},
		{name: "unknown casualties member", body: props(map[string]any{"casualties": map[string]any{"missing": 2}}), field: "properties.casualties.missing"},

		// text and times
		{name: "title over 200 characters", body: props(map[string]any{"title": strings.Repeat("x", 201)}), field: "properties.title"},
		{name: "occurred_at yesterday", body: props(map[string]any{"occurred_at": "yesterday"}), field: "properties.occurred_at"},
		{name: "occurred_at as a number", body: props(map[string]any{"occurred_at": 1536382800}), field: "properties.occurred_at"},
		{name: "occurred_at without a zone", body: props(map[string]any{"occurred_at": "2018-09-08T05:00:00"}), field: "properties.occurred_at"},
		{name: "occurred_at in year 0", body: props(map[string]any{"occurred_at": "0000-01-01T00:00:00Z"}), field: "properties.occurred_at"},
		{name: "country IRQ", body: props(map[string]any{"country": "IRQ"}), field: "properties.country"},
		{name: "country digits", body: props(map[string]any{"country": "12"}), field: "properties.country"},
		{name: "country AB, unassigned", body: props(map[string]any{"country": "AB"}), field: "properties.country"},
		{name: "source with a javascript URL", body: props(map[string]any{"sources": []map[string]any{{"url": "javascript:alert(1)"}}}), field: "properties.sources[0].url"},
		{name: "source published_at garbage", body: props(map[string]any{"sources": []map[string]any{{"url": "https://example.org", "published_at": "last week"}}}), field: "properties.sources[0].published_at"},
		{name: "unknown member in a source", body: props(map[string]any{"sources": []map[string]any{{"url": "https://example.org", "colour": "red"}}}), field: "properties.sources[0].colour"},
		{name: "empty tag", body: props(map[string]any{"tags": []string{""}}), field: "properties.tags[0]"},
		{name: "tags as a string", body: props(map[string]any{"tags": "rocket"}), field: "properties.tags"},
		{name: "too many tags", body: props(map[string]any{"tags": strings.Split(strings.Repeat("t,", 101)+"t", ",")}), field: "properties.tags"},
		{name: "empty external_id", body: props(map[string]any{"external_id": ""}), field: "properties.external_id"},
		{name: "member with an empty name", body: props(map[string]any{"": 1}), field: "properties"},
		{name: "top-level member with an empty name", body: strings.Replace(valid, `{`, `{"":[],`, 1), field: "body"},
		{name: "unknown property colour", body: props(map[string]any{"colour": "red"}), field: "properties.colour"},

		// silent changes encoding/json would make: each is a 400 naming the member
		{name: "duplicate top-level member", body: strings.Replace(valid, `{`, `{"type":"Feature",`, 1), field: "type"},
		{name: "duplicate property", body: strings.Replace(valid, `"severity":3`, `"severity":3,"severity":5`, 1), field: "properties.severity"},
		{name: "duplicate member in an actor", body: props(map[string]any{"actors": json.RawMessage(`[{"actor_id":"kh","role":"target","role":"perpetrator"}]`)}), field: "properties.actors[0].role"},
		{name: "duplicate coordinates", body: strings.Replace(valid, `"type":"Point"`, `"coordinates":[1,2],"type":"Point"`, 1), field: "geometry.coordinates"},
		{name: "duplicate member spelled with an escape", body: strings.Replace(valid, `"severity":3`, `"severity":3,"sev\u0065rity":5`, 1), field: "properties.severity"},
		{name: "lone high surrogate in the title", body: strings.Replace(valid, `Rockets`, `Rock\ud800ets`, 1), field: "properties.title"},
		{name: "lone low surrogate in a tag", body: props(map[string]any{"tags": json.RawMessage(`["ok","x\udc00"]`)}), field: "properties.tags[1]"},
		{name: "reversed surrogate pair", body: strings.Replace(valid, `Rockets`, `\udc00\ud800`, 1), field: "properties.title"},
		{name: "high surrogate at the end of a string", body: strings.Replace(valid, `Rockets near the consulate`, `x\ud83d`, 1), field: "properties.title"},
		{name: "NUL in the title", body: strings.Replace(valid, `Rockets`, `Rock\u0000ets`, 1), field: "properties.title"},
		{name: "escape character in the title", body: strings.Replace(valid, `Rockets`, `\u001b[31mRockets`, 1), field: "properties.title"},
		{name: "line feed in the title", body: props(map[string]any{"title": "two\nlines"}), field: "properties.title"},
		{name: "C1 control in a tag", body: props(map[string]any{"tags": []string{"a\u0085b"}}), field: "properties.tags[0]"},
		{name: "DEL in a source title", body: props(map[string]any{"sources": []map[string]any{{"url": "https://example.org", "title": "a\u007fb"}}}), field: "properties.sources[0].title"},
		{name: "bell in the description", body: props(map[string]any{"description": "ring\u0007"}), field: "properties.description"},
		{name: "altitude as a third coordinate", body: withGeometry(pt(44.36, 33.31, 120)), field: "geometry.coordinates"},
		{name: "altitude zero", body: withGeometry(pt(44.36, 33.31, 0)), field: "geometry.coordinates"},
		{name: "crs EPSG:4326 at the top", body: withCRS(incidentJSON(44.36, 33.31, nil), "urn:ogc:def:crs:EPSG::4326"), field: "crs"},
		{name: "crs EPSG:3857 at the top", body: withCRS(incidentJSON(44.36, 33.31, nil), "EPSG:3857"), field: "crs"},
		{name: "crs as a link object", body: func() any {
			f := incidentJSON(44.36, 33.31, nil)
			f["crs"] = map[string]any{"type": "link", "properties": map[string]any{"href": "http://example.org/crs"}}
			return f
		}(), field: "crs"},
		{name: "crs inside the geometry", body: withGeometry(map[string]any{"type": "Point", "coordinates": []float64{33.31, 44.36},
			"crs": map[string]any{"type": "name", "properties": map[string]any{"name": "urn:ogc:def:crs:EPSG::4326"}}}), field: "geometry.crs"},
		{name: "occurred_at offset minutes 60", body: props(map[string]any{"occurred_at": "2018-09-08T05:00:00+00:60"}), field: "properties.occurred_at"},
		{name: "occurred_at offset +24:00", body: props(map[string]any{"occurred_at": "2018-09-08T05:00:00+24:00"}), field: "properties.occurred_at"},
		{name: "occurred_at offset without a colon", body: props(map[string]any{"occurred_at": "2018-09-08T05:00:00+0300"}), field: "properties.occurred_at"},
		{name: "occurred_at on 31 September", body: props(map[string]any{"occurred_at": "2018-09-31T05:00:00Z"}), field: "properties.occurred_at"},
		{name: "occurred_at 29 February of a common year", body: props(map[string]any{"occurred_at": "2018-02-29T05:00:00Z"}), field: "properties.occurred_at"},
		{name: "occurred_at second 61", body: props(map[string]any{"occurred_at": "2016-12-31T23:59:61Z"}), field: "properties.occurred_at"},
		{name: "occurred_at leap second not at the end of a UTC minute", body: props(map[string]any{"occurred_at": "2016-12-31T12:30:60Z"}), field: "properties.occurred_at"},
		{name: "occurred_at separated by a space", body: props(map[string]any{"occurred_at": "2018-09-08 05:00:00Z"}), field: "properties.occurred_at"},
		{name: "occurred_at year 10000 after the offset", body: props(map[string]any{"occurred_at": "9999-12-31T23:00:00-02:00"}), field: "properties.occurred_at"},
		{name: "source published_at year 0 after the offset", body: props(map[string]any{"sources": []map[string]any{{"url": "https://example.org", "published_at": "0001-01-01T00:00:00+01:00"}}}), field: "properties.sources[0].published_at"},
		{name: "original with a control character", body: props(map[string]any{"original": map[string]any{"notes": "a\u0000"}}), field: "properties.original.notes"},
		{name: "text over the record's size", body: props(map[string]any{"description": strings.Repeat("é", 19000), "original": map[string]any{"notes": strings.Repeat("ü", 19000)}}), field: "properties"},

		// the body itself
		{name: "malformed JSON {", body: "{", field: "body"},
		{name: "JSON array", body: "[1,2]", field: "body"},
		{name: "trailing garbage", body: valid + " xyz", field: "body"},
		{name: "trailing brace", body: valid + "}", field: "body"},
		{name: "two documents", body: valid + valid, field: "body"},
		{name: "empty body", body: "", field: "body"},
		{name: "whitespace body", body: " \n\t ", field: "body"},
		{name: "JSON null", body: "null"},
		{name: "JSON string", body: `"Feature"`, field: "body"},
		{name: "invalid UTF-8 in title", body: []byte(strings.Replace(valid, "Rockets", "Rock\xffets", 1)), field: "body"},
		{name: "deeply nested JSON", body: strings.Replace(valid, `"severity":3`, `"severity":`+nested(20000), 1), field: "body"},
		{name: "deeply nested in properties within the limit", body: strings.Replace(valid, `"severity":3`, `"severity":`+nested(5000), 1), field: "properties.severity"},
		{name: "Content-Type text/plain", body: validIncidentText(), headers: []string{"Content-Type", "text/plain"}, status: http.StatusUnsupportedMediaType},
		{name: "Content-Type form", body: validIncidentText(), headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: http.StatusUnsupportedMediaType},
		{name: "Content-Type unparseable", body: validIncidentText(), headers: []string{"Content-Type", "application/json; charset"}, status: http.StatusUnsupportedMediaType},
		{name: "body over 1 MiB", body: oversized(), status: http.StatusRequestEntityTooLarge, field: "body"},
	}
}

// TestBadIncidentsWriteNothing sends every bad incident and checks each is
// refused with a problem naming the field, and that none left a trace.
func TestBadIncidentsWriteNothing(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/actors", map[string]any{"id": "kh", "name": "Kata'ib Hezbollah"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	last := e.createIncident(44.36, 33.31, nil)
	before := e.count(incidentItems)

	for _, tc := range badIncidents() {
		t.Run(tc.name, func(t *testing.T) {
			status := tc.status
			if status == 0 {
				status = http.StatusBadRequest
			}
			e.in(t).do("POST", incidentItems, tc.body, domain.RoleOfficer, tc.headers...).wantProblem(status, tc.field)
		})
	}

	t.Run("nothing was written", func(t *testing.T) {
		e := e.in(t)
		if n := e.count(incidentItems); n != before {
			t.Errorf("numberMatched %d after the bad inputs, want %d", n, before)
		}
		for id := last + 1; id <= last+5; id++ {
			r := e.do("GET", incidentItems+"/"+strconv.FormatInt(id, 10)+"/history", nil, domain.RoleAnalyst)
			r.wantProblem(http.StatusNotFound, "")
		}
		// The next good write takes the next id: no refused write used one up
		// and rolled back half way.
		if id := e.createIncident(44.36, 33.31, nil); id != last+1 {
			t.Errorf("next id %d, want %d", id, last+1)
		}
	})
}

// TestBadReplacesAndPatches sends bad PUT and PATCH bodies to an existing
// incident: each is refused, and the incident stays at version 1.
func TestBadReplacesAndPatches(t *testing.T) {
	e := newEnv(t)
	id := e.createIncident(44.36, 33.31, map[string]any{"description": "keep me"})
	url := incidentItems + "/" + strconv.FormatInt(id, 10)
	mergePatch := []string{"Content-Type", "application/merge-patch+json"}

	puts := []badInput{
		{name: "latitude 95", body: withGeometry(map[string]any{"type": "Point", "coordinates": []float64{44, 95}}), field: "geometry.coordinates"},
		{name: "missing title", body: incidentJSON(44.36, 33.31, map[string]any{"title": nil}), field: "properties.title"},
		{name: "severity 6", body: incidentJSON(44.36, 33.31, map[string]any{"severity": 6}), field: "properties.severity"},
		{name: "unknown property", body: incidentJSON(44.36, 33.31, map[string]any{"colour": "red"}), field: "properties.colour"},
		{name: "malformed JSON", body: `{"type":"Feature",`, field: "body"},
		{name: "empty body", body: "", field: "body"},
		{name: "text/plain", body: validIncidentText(), headers: []string{"Content-Type", "text/plain"}, status: http.StatusUnsupportedMediaType},
		{name: "over 1 MiB", body: oversized(), status: http.StatusRequestEntityTooLarge, field: "body"},
	}
	patches := []badInput{
		{name: "latitude 95", body: `{"geometry":{"type":"Point","coordinates":[44,95]}}`, field: "geometry.coordinates"},
		{name: "LineString", body: `{"geometry":{"type":"LineString","coordinates":[[44,33],[45,34]]}}`, field: "geometry.type"},
		{name: "geometry removed", body: `{"geometry":null}`, field: "geometry"},
		{name: "severity 0", body: `{"properties":{"severity":0}}`, field: "properties.severity"},
		{name: "severity as a string", body: `{"properties":{"severity":"5"}}`, field: "properties.severity"},
		{name: "status rumour", body: `{"properties":{"status":"rumour"}}`, field: "properties.status"},
		{name: "title removed", body: `{"properties":{"title":null}}`, field: "properties.title"},
		{name: "unknown property", body: `{"properties":{"colour":"red"}}`, field: "properties.colour"},
		{name: "unknown top-level member", body: `{"colour":"red"}`, field: "colour"},
		{name: "occurred_at yesterday", body: `{"properties":{"occurred_at":"yesterday"}}`, field: "properties.occurred_at"},
		{name: "malformed JSON", body: `{"properties":`, field: "body"},
		{name: "trailing garbage", body: `{"properties":{"severity":2}} x`, field: "body"},
		{name: "a JSON array", body: `[1,2]`, field: "body"},
		{name: "empty body", body: "", field: "body"},
		{name: "text/plain", body: `{"properties":{"severity":2}}`, headers: []string{"Content-Type", "text/plain"}, status: http.StatusUnsupportedMediaType},
		{name: "NaN", body: `{"geometry":{"type":"Point","coordinates":[NaN,1]}}`, field: "body"},
		{name: "deeply nested", body: `{"properties":{"tags":` + nested(20000) + `}}`, field: "body"},
	}
	for _, tc := range puts {
		t.Run("PUT "+tc.name, func(t *testing.T) {
			status := tc.status
			if status == 0 {
				status = http.StatusBadRequest
			}
			e.in(t).do("PUT", url, tc.body, domain.RoleOfficer, tc.headers...).wantProblem(status, tc.field)
		})
	}
	for _, tc := range patches {
		t.Run("PATCH "+tc.name, func(t *testing.T) {
			status := tc.status
			if status == 0 {
				status = http.StatusBadRequest
			}
			e.in(t).do("PATCH", url, tc.body, domain.RoleOfficer, append(append([]string{}, mergePatch...), tc.headers...)...).
				wantProblem(status, tc.field)
		})
	}
	t.Run("the incident is unchanged", func(t *testing.T) {
		e := e.in(t)
		r := e.do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).wantHeader("ETag", `"1"`)
		if d := dig(r.json(), "properties", "description"); d != "keep me" {
			t.Errorf("description %v, want keep me", d)
		}
		if n := len(e.history("incidents", id)); n != 1 {
			t.Errorf("%d history versions, want 1", n)
		}
	})
}

// TestBadFacilitiesAndActors refuses bad facility and actor bodies and
// checks that nothing was stored.
func TestBadFacilitiesAndActors(t *testing.T) {
	e := newEnv(t)
	fac := func(props map[string]any) map[string]any {
		p := map[string]any{"name": "Embassy Baghdad", "kind": "embassy", "country": "IQ"}
		for k, v := range props {
			if v == nil {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return facilityBody(44.39, 33.30, p)
	}
	facilities := []badInput{
		{name: "missing name", body: fac(map[string]any{"name": nil}), field: "properties.name"},
		{name: "kind castle", body: fac(map[string]any{"kind": "castle"}), field: "properties.kind"},
		{name: "posture panic", body: fac(map[string]any{"posture": "panic"}), field: "properties.posture"},
		{name: "alert_radius_m negative", body: fac(map[string]any{"alert_radius_m": -5}), field: "properties.alert_radius_m"},
		{name: "alert_radius_m zero", body: fac(map[string]any{"alert_radius_m": 0}), field: "properties.alert_radius_m"},
		{name: "alert_radius_m as a string", body: fac(map[string]any{"alert_radius_m": "5km"}), field: "properties.alert_radius_m"},
		{name: "alert_radius_m huge", body: fac(map[string]any{"alert_radius_m": 1e9}), field: "properties.alert_radius_m"},
		{name: "country IRQ", body: fac(map[string]any{"country": "IRQ"}), field: "properties.country"},
		{name: "country AB, unassigned", body: fac(map[string]any{"country": "ab"}), field: "properties.country"},
		{name: "unknown property", body: fac(map[string]any{"colour": "red"}), field: "properties.colour"},
		{name: "latitude 95", body: facilityBody(44.39, 95, map[string]any{"name": "x"}), field: "geometry.coordinates"},
		{name: "malformed JSON", body: "{", field: "body"},
		{name: "text/plain", body: "name=x", headers: []string{"Content-Type", "text/plain"}, status: http.StatusUnsupportedMediaType},
	}
	actors := []badInput{
		{name: "missing name", body: map[string]any{"id": "x"}, field: "name"},
		{name: "kind gang", body: map[string]any{"id": "x", "name": "X", "kind": "gang"}, field: "kind"},
		{name: "id with capitals and spaces", body: map[string]any{"id": "Bad Id", "name": "X"}, field: "id"},
		{name: "id too long", body: map[string]any{"id": strings.Repeat("a", 101), "name": "X"}, field: "id"},
		{name: "name that slugs to nothing", body: map[string]any{"name": "!!!"}, field: "id"},
		{name: "country IRN", body: map[string]any{"id": "x", "name": "X", "country": "IRN"}, field: "country"},
		{name: "country AB, unassigned", body: map[string]any{"id": "x", "name": "X", "country": "AB"}, field: "country"},
		{name: "aliases as a string", body: map[string]any{"id": "x", "name": "X", "aliases": "KH"}, field: "aliases"},
		{name: "blank alias", body: map[string]any{"id": "x", "name": "X", "aliases": []string{" "}}, field: "aliases[0]"},
		{name: "unknown member", body: map[string]any{"id": "x", "name": "X", "colour": "red"}, field: "colour"},
		{name: "malformed JSON", body: `{"id":`, field: "body"},
		{name: "JSON array", body: `[]`, field: "body"},
		{name: "empty body", body: "", field: "body"},
		{name: "text/plain", body: `{"id":"x","name":"X"}`, headers: []string{"Content-Type", "text/plain"}, status: http.StatusUnsupportedMediaType},
		{name: "over 1 MiB", body: map[string]any{"id": "x", "name": "X", "description": strings.Repeat("a", api.MaxBodyBytes)},
			status: http.StatusRequestEntityTooLarge, field: "body"},
	}
	for _, tc := range facilities {
		t.Run("facility "+tc.name, func(t *testing.T) {
			status := tc.status
			if status == 0 {
				status = http.StatusBadRequest
			}
			e.in(t).do("POST", facilityItems, tc.body, domain.RoleAdmin, tc.headers...).wantProblem(status, tc.field)
		})
	}
	for _, tc := range actors {
		t.Run("actor "+tc.name, func(t *testing.T) {
			status := tc.status
			if status == 0 {
				status = http.StatusBadRequest
			}
			e.in(t).do("POST", "/actors", tc.body, domain.RoleOfficer, tc.headers...).wantProblem(status, tc.field)
		})
	}
	t.Run("nothing was written", func(t *testing.T) {
		e := e.in(t)
		if n := e.count(facilityItems); n != 0 {
			t.Errorf("%d facilities stored", n)
		}
		r := e.do("GET", "/actors", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		if n := r.json()["numberMatched"]; n != 0.0 {
			t.Errorf("%v actors stored: %s", n, r.Body.String())
		}
		e.do("GET", facilityItems+"/1/history", nil, domain.RoleAnalyst).wantProblem(http.StatusNotFound, "")
		e.do("GET", "/actors/x/history", nil, domain.RoleAnalyst).wantProblem(http.StatusNotFound, "")
	})
}
