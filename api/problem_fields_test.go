package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestProblemsNameTheRealFields: a problem's errors[] names what is wrong
// and nothing else, so a form shows one message beside the one field: an
// occurred_at that is not RFC 3339 is not also "required", a merge patch
// that is not an object names the body, and a 415 names Content-Type.
func TestProblemsNameTheRealFields(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/actors", map[string]any{"id": "kh", "name": "Kata'ib Hezbollah"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	inc := incidentItems + "/" + strconv.FormatInt(e.createIncident(44.36, 33.31, nil), 10)
	fac := facilityItems + "/" + strconv.FormatInt(e.createFacility(47.66, 30.55, "Consulate General Basrah"), 10)
	mergePatch := []string{"Content-Type", "application/merge-patch+json"}
	withSource := func(published string) map[string]any {
		return incidentJSON(44.36, 33.31, map[string]any{"sources": []any{map[string]any{"url": "https://example.org/a", "published_at": published}}})
	}

	for _, tt := range []struct {
		name    string
		method  string
		url     string
		role    domain.Role
		body    any
		headers []string
		status  int
		fields  []string
	}{
		{"occurred_at 30 February", "POST", incidentItems, domain.RoleOfficer,
			incidentJSON(44.36, 33.31, map[string]any{"occurred_at": "2018-02-30"}), nil, 400, []string{"properties.occurred_at"}},
		{"occurred_at offset +24:00", "POST", incidentItems, domain.RoleOfficer,
			incidentJSON(44.36, 33.31, map[string]any{"occurred_at": "2018-09-08T05:00:00+24:00"}), nil, 400, []string{"properties.occurred_at"}},
		{"occurred_at 30 February and a bad severity", "POST", incidentItems, domain.RoleOfficer,
			incidentJSON(44.36, 33.31, map[string]any{"occurred_at": "2018-02-30", "severity": 9}), nil, 400, []string{"properties.occurred_at", "properties.severity"}},
		{"published_at +24:00", "POST", incidentItems, domain.RoleOfficer,
			withSource("2018-09-08T05:00:00+24:00"), nil, 400, []string{"properties.sources[0].published_at"}},
		{"PUT occurred_at +24:00", "PUT", inc, domain.RoleOfficer,
			incidentJSON(44.36, 33.31, map[string]any{"occurred_at": "2018-09-08T05:00:00+24:00"}), nil, 400, []string{"properties.occurred_at"}},
		{"PATCH occurred_at 30 February", "PATCH", inc, domain.RoleOfficer,
			`{"properties": {"occurred_at": "2018-02-30"}}`, mergePatch, 400, []string{"properties.occurred_at"}},
		{"PATCH incident null", "PATCH", inc, domain.RoleOfficer, "null", mergePatch, 400, []string{"body"}},
		{"PATCH incident a string", "PATCH", inc, domain.RoleOfficer, `"x"`, mergePatch, 400, []string{"body"}},
		{"PATCH facility null", "PATCH", fac, domain.RoleAdmin, "null", mergePatch, 400, []string{"body"}},
		{"PATCH actor null", "PATCH", "/actors/kh", domain.RoleOfficer, "null", mergePatch, 400, []string{"body"}},
		{"PATCH actor a number", "PATCH", "/actors/kh", domain.RoleOfficer, "3", mergePatch, 400, []string{"body"}},
		{"POST incident as text/plain", "POST", incidentItems, domain.RoleOfficer,
			validIncidentText(), []string{"Content-Type", "text/plain"}, 415, []string{"Content-Type"}},
		{"PUT facility as XML", "PUT", fac, domain.RoleAdmin,
			facilityJSON(47.66, 30.55, "Consulate General Basrah"), []string{"Content-Type", "application/xml"}, 415, []string{"Content-Type"}},
		{"PATCH incident as a form", "PATCH", inc, domain.RoleOfficer,
			`{}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, []string{"Content-Type"}},
		{"POST actor with an unparseable type", "POST", "/actors", domain.RoleOfficer,
			`{"id": "x", "name": "X"}`, []string{"Content-Type", "application/json; charset"}, 415, []string{"Content-Type"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.in(t).do(tt.method, tt.url, tt.body, tt.role, tt.headers...)
			r.wantProblem(tt.status, "")
			if got := r.fields(); !slices.Equal(got, tt.fields) {
				t.Errorf("errors[] names %v, want %v: %s", got, tt.fields, r.Body.String())
			}
		})
	}
	for _, url := range []string{inc, fac, "/actors/kh"} {
		if v := e.do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Header().Get("ETag"); v != `"1"` {
			t.Errorf("%s is at %s after refused writes, want %q", url, v, fmt.Sprint(`"1"`))
		}
	}
}
