package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// withID is a feature body with its "id" member set (nil leaves it out).
func withID(f map[string]any, id any) map[string]any {
	if id != nil {
		f["id"] = id
	}
	return f
}

// TestWriteNamesItsOwnRecord checks that a PUT or PATCH whose body names
// another record than its path is refused naming id, and leaves the record
// alone, while the same id (as a number or a string) or none is accepted;
// and that OPTIONS on a record that does not exist is 404 like GET, while
// OPTIONS on the items collection is still 204.
func TestWriteNamesItsOwnRecord(t *testing.T) {
	e := newEnv(t)
	inc := e.createIncident(44.36, 33.31, nil)
	fac := e.createFacility(47.78, 30.51, "Consulate General Basrah")
	other := e.createIncident(44.40, 33.30, nil)
	e.do("POST", "/actors", map[string]any{"id": "kh", "name": "Kata'ib Hezbollah", "kind": "militia"}, domain.RoleOfficer).
		wantStatus(http.StatusCreated)
	vars := map[string]string{
		"inc":   strconv.FormatInt(inc, 10),
		"fac":   strconv.FormatInt(fac, 10),
		"other": strconv.FormatInt(other, 10),
	}
	incURL, facURL := "/collections/incidents/items/{inc}", "/collections/facilities/items/{fac}"
	merge := []string{"Content-Type", "application/merge-patch+json"}
	unchanged := func(url string, version int) func(t *testing.T, r *response) {
		return func(t *testing.T, _ *response) {
			for k, v := range vars {
				url = strings.ReplaceAll(url, "{"+k+"}", v)
			}
			e.in(t).do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).wantHeader("ETag", etagOf(version))
		}
	}
	e.runSteps(t, vars, []step{
		{name: "PUT incident naming another incident", method: "PUT", url: incURL,
			body: withID(incidentJSON(44.36, 33.31, nil), other), role: domain.RoleOfficer,
			status: http.StatusBadRequest, field: "id", check: unchanged(incURL, 1)},
		{name: "PUT incident naming another id as a string", method: "PUT", url: incURL,
			body: withID(incidentJSON(44.36, 33.31, nil), "999"), role: domain.RoleOfficer,
			status: http.StatusBadRequest, field: "id", check: unchanged(incURL, 1)},
		{name: "PATCH incident naming another incident", method: "PATCH", url: incURL,
			body: `{"id":` + vars["other"] + `,"properties":{"title":"moved"}}`, role: domain.RoleOfficer, headers: merge,
			status: http.StatusBadRequest, field: "id", check: unchanged(incURL, 1)},
		{name: "PUT facility naming another id", method: "PUT", url: facURL,
			body: withID(facilityJSON(47.78, 30.51, "Consulate General Basrah"), 12345), role: domain.RoleAdmin,
			status: http.StatusBadRequest, field: "id", check: unchanged(facURL, 1)},
		{name: "PATCH facility naming another id", method: "PATCH", url: facURL,
			body: `{"id":"x1","properties":{"city":"Basra"}}`, role: domain.RoleAdmin, headers: merge,
			status: http.StatusBadRequest, field: "id", check: unchanged(facURL, 1)},
		{name: "PUT actor naming another actor", method: "PUT", url: "/actors/kh",
			body: map[string]any{"id": "aah", "name": "Asa'ib Ahl al-Haq", "kind": "militia"}, role: domain.RoleOfficer,
			status: http.StatusBadRequest, field: "id", check: unchanged("/actors/kh", 1)},
		{name: "PATCH actor naming another actor", method: "PATCH", url: "/actors/kh",
			body: `{"id":"aah"}`, role: domain.RoleOfficer, headers: merge,
			status: http.StatusBadRequest, field: "id", check: unchanged("/actors/kh", 1)},

		{name: "PUT incident with its own id", method: "PUT", url: incURL,
			body: withID(incidentJSON(44.36, 33.31, nil), inc), role: domain.RoleOfficer, status: http.StatusOK},
		{name: "PUT incident with its own id as a string", method: "PUT", url: incURL,
			body: withID(incidentJSON(44.36, 33.31, nil), vars["inc"]), role: domain.RoleOfficer, status: http.StatusOK},
		{name: "PUT incident without an id", method: "PUT", url: incURL,
			body: incidentJSON(44.36, 33.31, nil), role: domain.RoleOfficer, status: http.StatusOK},
		{name: "PATCH incident with its own id", method: "PATCH", url: incURL,
			body: `{"id":` + vars["inc"] + `,"properties":{"title":"same"}}`, role: domain.RoleOfficer, headers: merge,
			status: http.StatusOK},
		{name: "PUT facility with its own id", method: "PUT", url: facURL,
			body: withID(facilityJSON(47.78, 30.51, "Consulate General Basrah"), fac), role: domain.RoleAdmin, status: http.StatusOK},
		{name: "PUT actor with its own id", method: "PUT", url: "/actors/kh",
			body: map[string]any{"id": "kh", "name": "Kata'ib Hezbollah", "kind": "militia"}, role: domain.RoleOfficer,
			status: http.StatusOK},

		{name: "OPTIONS on a missing incident", method: "OPTIONS", url: "/collections/incidents/items/999999",
			role: domain.RoleAnalyst, status: http.StatusNotFound},
		{name: "OPTIONS on a malformed incident id", method: "OPTIONS", url: "/collections/incidents/items/abc",
			role: domain.RoleAnalyst, status: http.StatusNotFound},
		// One URL per record: an id in another decimal form names none.
		{name: "GET incident by its id with a leading zero", method: "GET", url: "/collections/incidents/items/0" + vars["inc"],
			role: domain.RoleAnalyst, status: http.StatusNotFound},
		{name: "GET incident by its id with a plus sign", method: "GET", url: "/collections/incidents/items/%2B" + vars["inc"],
			role: domain.RoleAnalyst, status: http.StatusNotFound},
		{name: "GET incident by its id", method: "GET", url: incURL, role: domain.RoleAnalyst, status: http.StatusOK},
		{name: "OPTIONS on a missing facility", method: "OPTIONS", url: "/collections/facilities/items/999999",
			role: domain.RoleAdmin, status: http.StatusNotFound},
		{name: "OPTIONS on an existing incident", method: "OPTIONS", url: incURL,
			role: domain.RoleAnalyst, status: http.StatusNoContent},
		{name: "OPTIONS on the incidents collection", method: "OPTIONS", url: "/collections/incidents/items",
			role: domain.RoleAnalyst, status: http.StatusNoContent},
		{name: "OPTIONS on the facilities collection", method: "OPTIONS", url: "/collections/facilities/items",
			role: domain.RoleAnalyst, status: http.StatusNoContent},
	})
}
