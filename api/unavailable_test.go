package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/storetest"
)

// TestDatabaseUnavailable: while the database cannot be reached, reads and
// writes are 503 problem+json with Retry-After, and /readyz says so; once
// it is back, the same server answers again without a restart. A SQLite
// file cannot go away under a running server, so this runs on PostGIS.
func TestDatabaseUnavailable(t *testing.T) {
	if !storetest.PostGIS() {
		t.Skip("a database server that goes away is PostGIS's case; the PostGIS pass runs it")
	}
	e := newEnv(t)
	id := e.createIncident(44.36, 33.31, nil)
	e.do("GET", "/collections/incidents/items", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)

	storetest.SetReachable(t, e.store, false)
	for _, tc := range []struct{ method, url string }{
		{"GET", "/collections/incidents/items?bbox=44,33,45,34"},
		{"GET", "/collections/incidents/items/" + strconv.FormatInt(id, 10)},
		{"POST", "/collections/incidents/items"},
	} {
		var body any
		if tc.method == "POST" {
			body = incidentJSON(44.36, 33.31, nil)
		}
		r := e.do(tc.method, tc.url, body, domain.RoleOfficer)
		r.wantProblem(http.StatusServiceUnavailable, "")
		if r.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", tc.method, tc.url)
		}
	}
	e.do("GET", "/readyz", nil, "").wantStatus(http.StatusServiceUnavailable)

	storetest.SetReachable(t, e.store, true)
	e.do("GET", "/readyz", nil, "").wantStatus(http.StatusOK)
	e.do("GET", "/collections/incidents/items/"+strconv.FormatInt(id, 10), nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	e.createIncident(44.36, 33.31, nil)
}
