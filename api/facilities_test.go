package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
)

const facilityItems = "/collections/facilities/items"

func facilityBody(lon, lat float64, props map[string]any) map[string]any {
	return map[string]any{"type": "Feature", "geometry": map[string]any{"type": "Point", "coordinates": []any{lon, lat}},
		"properties": props}
}

// TestFacilityLifecycle walks one facility through create, read, replace,
// patch and delete. Only admins write facilities; officers may read them
// and record postures.
func TestFacilityLifecycle(t *testing.T) {
	e := newEnv(t)
	other := e.createFacility(44.39, 33.30, "Embassy Baghdad")
	vars := map[string]string{}
	var created map[string]any
	item := facilityItems + "/{id}"
	mergePatch := []string{"Content-Type", "application/merge-patch+json"}
	basrah := map[string]any{"name": "Consulate General Basrah", "kind": "consulate_general", "country": "iq", "city": "Basrah"}

	e.runSteps(t, vars, []step{
		{name: "POST by an officer is 403", method: "POST", url: facilityItems, role: domain.RoleOfficer,
			body: facilityBody(47.78, 30.51, basrah), status: http.StatusForbidden},
		{name: "POST by an admin stores the feature with defaults", method: "POST", url: facilityItems, role: domain.RoleAdmin,
			body: facilityBody(47.78, 30.51, basrah), status: http.StatusCreated,
			check: func(t *testing.T, r *response) {
				created = r.json()
				id, ok := created["id"].(float64)
				if !ok || id != float64(int64(id)) || id <= 0 {
					t.Fatalf("id %v is not a positive integer", created["id"])
				}
				vars["id"] = strconv.FormatInt(int64(id), 10)
				if loc := r.Header().Get("Location"); !strings.HasSuffix(loc, facilityItems+"/"+vars["id"]) {
					t.Errorf("Location %q does not name the new item", loc)
				}
				r.wantHeader("ETag", `"1"`)
				for key, want := range map[string]any{
					"version": 1.0, "alert_radius_m": 5000.0, "posture": "normal", "name": "Consulate General Basrah",
					"kind": "consulate_general", "country": "IQ", "city": "Basrah",
				} {
					if got := dig(created, "properties", key); got != want {
						t.Errorf("properties.%s = %v, want %v", key, got, want)
					}
				}
			}},
		{name: "GET returns it as GeoJSON with ETag", method: "GET", url: item, role: domain.RoleAnalyst, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"1"`)
				if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/geo+json") {
					t.Errorf("Content-Type %q", ct)
				}
				if got := r.json(); fmt.Sprint(got["properties"]) != fmt.Sprint(created["properties"]) {
					t.Errorf("GET differs from what POST returned:\n%v\n%v", got["properties"], created["properties"])
				}
			}},
		{name: "PUT by an officer is 403", method: "PUT", url: item, role: domain.RoleOfficer,
			body: facilityBody(47.78, 30.51, basrah), status: http.StatusForbidden},
		{name: "PUT with a stale If-Match is 412", method: "PUT", url: item, role: domain.RoleAdmin,
			headers: []string{"If-Match", `"2"`}, body: facilityBody(47.78, 30.51, basrah), status: http.StatusPreconditionFailed},
		{name: "PUT with a matching If-Match replaces it", method: "PUT", url: item, role: domain.RoleAdmin,
			headers: []string{"If-Match", `"1"`},
			body: facilityBody(47.79, 30.52, map[string]any{
				"name": "US Consulate General Basrah", "kind": "consulate_general", "alert_radius_m": 8000, "posture": "normal",
			}),
			status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"2"`)
				got := r.json()
				for key, want := range map[string]any{
					"version": 2.0, "alert_radius_m": 8000.0, "posture": "normal", "name": "US Consulate General Basrah",
					"city": "", "country": "", "created_at": dig(created, "properties", "created_at"),
				} {
					if v := dig(got, "properties", key); v != want {
						t.Errorf("properties.%s = %v, want %v", key, v, want)
					}
				}
			}},
		{name: "PATCH by an officer is 403", method: "PATCH", url: item, role: domain.RoleOfficer, headers: mergePatch,
			body: `{"properties":{"posture":"closed"}}`, status: http.StatusForbidden},
		{name: "PATCH with a stale If-Match is 412", method: "PATCH", url: item, role: domain.RoleAdmin,
			headers: append([]string{"If-Match", `"1"`}, mergePatch...), body: `{"properties":{"posture":"closed"}}`,
			status: http.StatusPreconditionFailed},
		// The posture is that of the latest posture change in effect
		// (CONTRACT §6): a facility write may repeat it, not change it.
		{name: "PATCH cannot change the posture", method: "PATCH", url: item, role: domain.RoleAdmin,
			headers: append([]string{"If-Match", `"2"`}, mergePatch...),
			body:    `{"properties":{"posture":"ordered_departure","alert_radius_m":null}}`,
			status:  http.StatusBadRequest, field: "properties.posture"},
		{name: "PUT cannot change the posture", method: "PUT", url: item, role: domain.RoleAdmin,
			body:   facilityBody(47.79, 30.52, map[string]any{"name": "US Consulate General Basrah", "posture": "closed"}),
			status: http.StatusBadRequest, field: "properties.posture"},
		{name: "PATCH keeps the posture and the rest", method: "PATCH", url: item, role: domain.RoleAdmin,
			headers: append([]string{"If-Match", `"2"`}, mergePatch...),
			body:    `{"properties":{"alert_radius_m":null}}`, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"3"`)
				got := r.json()
				for key, want := range map[string]any{
					"posture": "normal", "name": "US Consulate General Basrah", "version": 3.0,
					// A removed member takes its default again.
					"alert_radius_m": 5000.0,
				} {
					if v := dig(got, "properties", key); v != want {
						t.Errorf("properties.%s = %v, want %v", key, v, want)
					}
				}
			}},
		{name: "PATCH moves the geometry", method: "PATCH", url: item, role: domain.RoleAdmin, headers: mergePatch,
			body: `{"geometry":{"type":"Point","coordinates":[47.8,30.5]}}`, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"4"`)
				if got := fmt.Sprint(dig(r.json(), "geometry", "coordinates")); got != "[47.8 30.5]" {
					t.Errorf("coordinates %s", got)
				}
			}},
		{name: "an officer records a posture", method: "POST", url: item + "/postures", role: domain.RoleOfficer,
			body:   map[string]any{"posture": "relocated", "reason": "temporary relocation of diplomatic personnel"},
			status: http.StatusCreated},
		{name: "the recorded posture is the facility's, as a new version", method: "GET", url: item, role: domain.RoleAnalyst,
			status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"5"`)
				if p := dig(r.json(), "properties", "posture"); p != "relocated" {
					t.Errorf("posture %v, want relocated", p)
				}
			}},
		{name: "a PUT that leaves the posture out keeps it", method: "PUT", url: item, role: domain.RoleAdmin,
			headers: []string{"If-Match", `"5"`},
			body:    facilityBody(47.8, 30.5, map[string]any{"name": "US Consulate General Basrah", "kind": "consulate_general", "city": "Basrah"}),
			status:  http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"6"`)
				if p := dig(r.json(), "properties", "posture"); p != "relocated" {
					t.Errorf("posture %v, want relocated", p)
				}
			}},
		{name: "DELETE by an officer is 403", method: "DELETE", url: item, role: domain.RoleOfficer, status: http.StatusForbidden},
		{name: "DELETE with a stale If-Match is 412", method: "DELETE", url: item, role: domain.RoleAdmin,
			headers: []string{"If-Match", `"4"`}, status: http.StatusPreconditionFailed},
		{name: "DELETE with a matching If-Match is 204", method: "DELETE", url: item, role: domain.RoleAdmin,
			headers: []string{"If-Match", `"6"`}, status: http.StatusNoContent},
		{name: "GET after DELETE is 404", method: "GET", url: item, role: domain.RoleAnalyst, status: http.StatusNotFound},
		{name: "the listing no longer contains it", method: "GET", url: facilityItems, role: domain.RoleAnalyst, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				var ids []string
				for _, f := range r.json()["features"].([]any) {
					ids = append(ids, fmt.Sprint(dig(f, "id")))
				}
				if !slices.Equal(ids, []string{strconv.FormatInt(other, 10)}) {
					t.Errorf("listing ids %v, want only %d", ids, other)
				}
			}},
		{name: "an incident cannot name the deleted facility", method: "POST", url: incidentItems, role: domain.RoleOfficer,
			body: func() any {
				id, _ := strconv.Atoi(vars["id"])
				return incidentJSON(47.78, 30.51, map[string]any{"facility_id": id})
			},
			status: http.StatusBadRequest, field: "properties.facility_id"},
		{name: "history keeps every version", method: "GET", url: item + "/history", role: domain.RoleAnalyst, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				vs, _ := r.json()["versions"].([]any)
				var got []string
				for i, v := range vs {
					got = append(got, fmt.Sprintf("%v %v %v", dig(v, "version"), dig(v, "op"), dig(v, "changed_by")))
					if id := fmt.Sprint(dig(v, "feature", "id")); id != vars["id"] {
						t.Errorf("versions[%d].feature.id = %s", i, id)
					}
				}
				want := []string{"1 create admin-tester", "2 update admin-tester", "3 update admin-tester",
					"4 update admin-tester", "5 update officer-tester", "6 update admin-tester", "7 delete admin-tester"}
				if !slices.Equal(got, want) {
					t.Errorf("history %q, want %q", got, want)
				}
				if len(vs) == 7 {
					if p := dig(vs[4], "feature", "properties", "posture"); p != "relocated" {
						t.Errorf("version 5 posture %v, want relocated", p)
					}
				}
			}},
	})
}

func TestFacilityThreat(t *testing.T) {
	e := newEnv(t)
	fac := e.createFacility(47.6625, 30.5489, "U.S. Consulate General Basrah")
	threat := func(query string) map[string]any {
		t.Helper()
		return e.do("GET", fmt.Sprintf("/collections/facilities/items/%d/threat%s", fac, query), nil, domain.RoleAnalyst).
			wantStatus(http.StatusOK).json()
	}
	ago := func(h int) string { return time.Now().UTC().Add(-time.Duration(h) * time.Hour).Format(time.RFC3339) }

	if r := threat(""); r["level"] != "low" || r["trend"] != "steady" {
		t.Fatalf("a quiet facility: %v", r)
	}
	// Three severity-4 rocket strikes within the alert radius in the last
	// 24 h after a quiet day, and noise that must not count.
	for _, h := range []int{1, 5, 20} {
		e.createIncident(47.67, 30.55, map[string]any{"severity": 4, "occurred_at": ago(h)})
	}
	e.createIncident(47.9, 30.8, map[string]any{"severity": 5, "occurred_at": ago(2)})    // ~35 km away
	e.createIncident(47.66, 30.55, map[string]any{"severity": 5, "occurred_at": ago(60)}) // before both windows
	r := threat("")
	level, trend := r["level"].(string), r["trend"]
	if !slices.Contains([]string{"elevated", "high", "severe"}, level) || trend != "rising" {
		t.Fatalf("three severity-4 incidents after a quiet day: level %s, trend %v; want at least elevated and rising", level, trend)
	}
	cur := r["current"].(map[string]any)
	if cur["count"] != 3.0 || cur["max_severity"] != 4.0 || cur["by_type"].(map[string]any)["indirect_fire"] != 3.0 {
		t.Errorf("current window %v, want 3 indirect fire incidents of severity 4", cur)
	}
	if prev := r["previous"].(map[string]any); prev["count"] != 0.0 {
		t.Errorf("previous window %v, want nothing", prev)
	}
	// A wider radius takes in the far incident; a 3-day window the old one.
	if n := threat("?radius=50000")["current"].(map[string]any)["count"]; n != 4.0 {
		t.Errorf("50 km: %v incidents, want 4", n)
	}
	if n := threat("?window=3d")["current"].(map[string]any)["count"]; n != 4.0 {
		t.Errorf("3 days: %v incidents, want 4", n)
	}
	for _, bad := range []string{"?window=yesterday", "?window=-1h", "?window=400d", "?radius=-5"} {
		field := "window"
		if strings.Contains(bad, "radius") {
			field = "radius"
		}
		e.do("GET", fmt.Sprintf("/collections/facilities/items/%d/threat%s", fac, bad), nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, field)
	}
	e.do("GET", "/collections/facilities/items/999/threat", nil, domain.RoleAnalyst).wantProblem(http.StatusNotFound, "")
}

// TestThreatCountsEveryIncident puts one incident more in a window than a
// page holds and checks that the assessment counts each of them.
func TestThreatCountsEveryIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 10,001 incidents")
	}
	e := newEnv(t)
	fac := e.createFacility(47.78, 30.51, "Basrah")
	now := time.Now().UTC()
	batch := make([]*domain.Incident, domain.MaxLimit+1)
	for i := range batch {
		batch[i] = &domain.Incident{Location: orb.Point{47.78, 30.51}, Type: "protest", Title: "crowd", Severity: 1,
			OccurredAt: now.Add(-20 * time.Hour).Add(time.Duration(i) * time.Second)}
		batch[i].ApplyDefaults()
	}
	if _, err := e.store.ImportIncidents(context.Background(), batch, nil); err != nil {
		t.Fatal(err)
	}
	// Under the race detector the walk takes longer than the default timeout.
	srv, err := api.NewWithOptions(api.Services{Incidents: e.store, Facilities: e.store, Actors: e.store, Tokens: e.store, DB: e.store},
		slog.New(slog.NewTextHandler(io.Discard, nil)), api.Options{RequestTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e.server = srv
	r := e.do("GET", fmt.Sprintf("/collections/facilities/items/%d/threat", fac), nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()
	if n := dig(r, "current", "count"); n != float64(domain.MaxLimit+1) {
		t.Errorf("current count %v, want %d", n, domain.MaxLimit+1)
	}
	if n := dig(r, "current", "by_type", "protest"); n != float64(domain.MaxLimit+1) {
		t.Errorf("protests %v, want %d", n, domain.MaxLimit+1)
	}
}
