package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// TestPostureTiming: a posture change takes effect at its effective_at,
// not when it is recorded, in every listing; it may name the incidents that
// prompted it.
func TestPostureTiming(t *testing.T) {
	e := newEnv(t)
	fac := e.createFacility(47.6625, 30.5489, "Consulate General Basrah")
	inc := e.createIncident(47.66, 30.55, nil)
	item := fmt.Sprintf("/collections/facilities/items/%d", fac)
	posture := func(e *env) string {
		e.t.Helper()
		r := e.do("GET", item, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		return dig(r.json(), "properties", "posture").(string)
	}
	listed := func(e *env, p string) int {
		return e.count("/collections/facilities/items?posture=" + p)
	}
	soonAt := time.Now().Add(3 * time.Second)
	soon := soonAt.UTC().Format(time.RFC3339Nano)
	e.runSteps(t, map[string]string{}, []step{
		{name: "a change names the incidents that prompted it", method: "POST", url: item + "/postures", role: domain.RoleOfficer,
			body: map[string]any{"posture": "elevated", "incident_ids": []int64{inc}}, status: 201,
			check: func(t *testing.T, r *response) {
				if ids, _ := r.json()["incident_ids"].([]any); len(ids) != 1 || ids[0] != float64(inc) {
					t.Fatalf("incident_ids %v", r.json()["incident_ids"])
				}
			}},
		{name: "an unknown incident is 400 naming it", method: "POST", url: item + "/postures", role: domain.RoleOfficer,
			body: map[string]any{"posture": "elevated", "incident_ids": []int64{inc, 999}}, status: 400, field: "incident_ids[1]"},
		{name: "an incident named twice is refused", method: "POST", url: item + "/postures", role: domain.RoleOfficer,
			body: map[string]any{"posture": "elevated", "incident_ids": []int64{inc, inc}}, status: 400, field: "incident_ids[1]"},
		{name: "incident_ids must be ids", method: "POST", url: item + "/postures", role: domain.RoleOfficer,
			body: `{"posture": "elevated", "incident_ids": ["x"]}`, status: 400, field: "incident_ids"},
		{name: "a change recorded ahead of time", method: "POST", url: item + "/postures", role: domain.RoleOfficer,
			body: map[string]any{"posture": "relocated", "effective_at": soon, "reason": "temporary relocation of diplomatic personnel"}, status: 201},
	})
	if got := posture(e); got != "elevated" {
		t.Fatalf("posture %q before the relocation takes effect, want elevated", got)
	}
	if listed(e, "relocated") != 0 || listed(e, "elevated") != 1 {
		t.Fatal("posture= finds the facility by a posture not yet in effect")
	}
	// A change in effect now applies at once, even with a later one pending.
	e.do("POST", item+"/postures", map[string]any{"posture": "ordered_departure"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	if got := posture(e); got != "ordered_departure" {
		t.Fatalf("posture %q, want ordered_departure at once", got)
	}
	time.Sleep(time.Until(soonAt) + 100*time.Millisecond)
	if got := posture(e); got != "relocated" {
		t.Fatalf("posture %q once effective_at has passed, want relocated", got)
	}
	if listed(e, "relocated") != 1 || listed(e, "ordered_departure") != 0 {
		t.Fatal("posture= does not follow the change that came due")
	}
	r := e.do("GET", "/collections/facilities/items", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	if !strings.Contains(r.Body.String(), `"posture":"relocated"`) {
		t.Fatalf("the listing shows another posture: %s", r.Body.String())
	}
	// serve's clock writes it as a facility version; reads do not change.
	versions := len(e.history("facilities", fac))
	n, err := e.store.ApplyDuePostures(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ApplyDuePostures: %d (%v), want 1", n, err)
	}
	if got := len(e.history("facilities", fac)); got != versions+1 || posture(e) != "relocated" {
		t.Fatalf("%d versions after applying (want %d), posture %q", got, versions+1, posture(e))
	}
	if n, _ := e.store.ApplyDuePostures(context.Background()); n != 0 {
		t.Fatalf("applied %d changes twice", n)
	}
}

// TestPossibleDuplicates: a report of the same type within 500 m and 2 h
// of a live incident is flagged in the 201, never refused.
func TestPossibleDuplicates(t *testing.T) {
	e := newEnv(t)
	first := e.createIncident(44.3955, 33.2986, map[string]any{"type": "protest", "occurred_at": "2018-09-07T10:00:00Z"})
	deleted := e.createIncident(44.3956, 33.2987, map[string]any{"type": "protest", "occurred_at": "2018-09-07T10:10:00Z"})
	e.do("DELETE", fmt.Sprintf("/collections/incidents/items/%d", deleted), nil, domain.RoleAdmin).wantStatus(http.StatusNoContent)
	cases := []struct {
		name     string
		lon, lat float64
		props    map[string]any
		want     bool
	}{
		{"same type, 300 m, an hour later", 44.3985, 33.2986, map[string]any{"type": "protest", "occurred_at": "2018-09-07T11:00:00Z"}, true},
		{"same type, same place, 1h59 earlier", 44.3955, 33.2986, map[string]any{"type": "protest", "occurred_at": "2018-09-07T08:01:00Z"}, true},
		{"another type", 44.3955, 33.2986, map[string]any{"type": "riot", "occurred_at": "2018-09-07T10:00:00Z"}, false},
		{"700 m from the nearest", 44.4060, 33.2986, map[string]any{"type": "protest", "occurred_at": "2018-09-07T10:00:00Z"}, false},
		{"three hours after the latest", 44.3955, 33.2986, map[string]any{"type": "protest", "occurred_at": "2018-09-07T14:00:00Z"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.in(t)
			r := e.do("POST", "/collections/incidents/items", incidentJSON(c.lon, c.lat, c.props), domain.RoleOfficer).wantStatus(http.StatusCreated)
			dups, _ := dig(r.json(), "properties", "possible_duplicates").([]any)
			link := r.Header().Get("Link")
			if !c.want {
				if dups != nil || strings.Contains(link, "duplicate") {
					t.Fatalf("flagged %v (Link %q)", dups, link)
				}
				return
			}
			if len(dups) == 0 || dups[0] != float64(first) || slicesContain(dups, float64(deleted)) {
				t.Fatalf("possible_duplicates %v, want %d and never the deleted %d", dups, first, deleted)
			}
			if !strings.Contains(link, fmt.Sprintf(`/collections/incidents/items/%d>; rel="duplicate"`, first)) {
				t.Fatalf("Link %q", link)
			}
			id := int64(r.json()["id"].(float64))
			// A hint of the create only: not stored, not in reads.
			got := e.do("GET", fmt.Sprintf("/collections/incidents/items/%d", id), nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
			if strings.Contains(got.Body.String(), "possible_duplicates") {
				t.Fatal("possible_duplicates was stored")
			}
		})
	}
}

// TestPossibleDuplicatesBounded: a gate reported over and over gets a
// hint of the latest domain.MaxPossibleDuplicates reports in one Link
// field, so a busy place never swells a 201 past what clients read.
func TestPossibleDuplicatesBounded(t *testing.T) {
	e := newEnv(t)
	var ids []int64
	for i := range domain.MaxPossibleDuplicates + 5 {
		ids = append(ids, e.createIncident(44.3955, 33.2986, map[string]any{"type": "protest",
			"occurred_at": fmt.Sprintf("2018-09-07T10:%02d:00Z", i)}))
	}
	r := e.do("POST", "/collections/incidents/items", incidentJSON(44.3955, 33.2986,
		map[string]any{"type": "protest", "occurred_at": "2018-09-07T10:30:00Z"}), domain.RoleOfficer).wantStatus(http.StatusCreated)
	dups, _ := dig(r.json(), "properties", "possible_duplicates").([]any)
	latest := ids[len(ids)-domain.MaxPossibleDuplicates:]
	if len(dups) != len(latest) {
		t.Fatalf("%d possible_duplicates, want the latest %d", len(dups), len(latest))
	}
	for i, id := range latest {
		if dups[i] != float64(id) {
			t.Fatalf("possible_duplicates %v, want %v", dups, latest)
		}
	}
	fields := r.Header().Values("Link")
	if len(fields) != 1 || strings.Count(fields[0], `rel="duplicate"`) != len(latest) {
		t.Fatalf("Link fields %q, want one listing %d duplicates", fields, len(latest))
	}
}

func slicesContain(vs []any, v any) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}
