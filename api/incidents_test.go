package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

const incidentItems = "/collections/incidents/items"

// TestIncidentLifecycle walks one incident through create, read, replace,
// patch and delete, checking versions, ETags, preconditions and history.
func TestIncidentLifecycle(t *testing.T) {
	e := newEnv(t)
	bystander := e.createIncident(44.36, 33.31, map[string]any{"title": "Protest at the embassy gate", "type": "protest"})
	vars := map[string]string{}
	var created map[string]any
	item := incidentItems + "/{id}"
	mergePatch := []string{"Content-Type", "application/merge-patch+json"}

	e.runSteps(t, vars, []step{
		{name: "POST stores the feature with defaults", method: "POST", url: incidentItems, role: domain.RoleOfficer,
			body: incidentJSON(47.7804, 30.5089, map[string]any{
				"severity": nil, "description": "Two rockets landed near the compound wall.", "tags": []string{"rocket"},
			}),
			status: http.StatusCreated,
			check: func(t *testing.T, r *response) {
				created = r.json()
				id, ok := created["id"].(float64)
				if !ok || id != float64(int64(id)) || id <= 0 {
					t.Fatalf("id %v is not a positive integer", created["id"])
				}
				vars["id"] = strconv.FormatInt(int64(id), 10)
				if loc := r.Header().Get("Location"); !strings.HasPrefix(loc, "http") || !strings.HasSuffix(loc, incidentItems+"/"+vars["id"]) {
					t.Errorf("Location %q does not name the new item", loc)
				}
				r.wantHeader("ETag", `"1"`)
				if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/geo+json") {
					t.Errorf("Content-Type %q, want application/geo+json", ct)
				}
				if created["type"] != "Feature" {
					t.Errorf("type %v, want Feature", created["type"])
				}
				for key, want := range map[string]any{
					"version": 1.0, "severity": 1.0, "time_precision": "exact", "location_precision": "exact",
					"status": "reported", "title": "Rockets near the consulate", "type": "indirect_fire",
					"occurred_at": "2018-09-08T05:00:00Z", "description": "Two rockets landed near the compound wall.",
				} {
					if got := dig(created, "properties", key); got != want {
						t.Errorf("properties.%s = %v, want %v", key, got, want)
					}
				}
				if got := dig(created, "geometry", "coordinates"); fmt.Sprint(got) != "[47.7804 30.5089]" {
					t.Errorf("coordinates %v", got)
				}
				if dig(created, "properties", "created_at") == "" || dig(created, "properties", "created_at") == nil {
					t.Errorf("created_at not set")
				}
			}},
		{name: "GET returns the stored feature with ETag", method: "GET", url: item, role: domain.RoleAnalyst, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"1"`)
				if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/geo+json") {
					t.Errorf("Content-Type %q, want application/geo+json", ct)
				}
				got := r.json()
				if fmt.Sprint(got["properties"]) != fmt.Sprint(created["properties"]) || fmt.Sprint(got["geometry"]) != fmt.Sprint(created["geometry"]) {
					t.Errorf("GET differs from what POST returned:\n%v\n%v", got, created)
				}
			}},
		{name: "GET of an unknown id is 404", method: "GET", url: incidentItems + "/987654", role: domain.RoleAnalyst, status: http.StatusNotFound},
		{name: "GET of a non-numeric id is 404", method: "GET", url: incidentItems + "/abc", role: domain.RoleAnalyst, status: http.StatusNotFound},
		{name: "PUT with a stale If-Match is 412", method: "PUT", url: item, role: domain.RoleOfficer,
			headers: []string{"If-Match", `"7"`}, body: incidentJSON(47.79, 30.52, nil), status: http.StatusPreconditionFailed},
		{name: "PUT with an unparseable If-Match is 412", method: "PUT", url: item, role: domain.RoleOfficer,
			headers: []string{"If-Match", `"abc"`}, body: incidentJSON(47.79, 30.52, nil), status: http.StatusPreconditionFailed},
		{name: "a failed PUT leaves the record at version 1", method: "GET", url: item, role: domain.RoleAnalyst, status: http.StatusOK,
			check: func(t *testing.T, r *response) { r.wantHeader("ETag", `"1"`) }},
		{name: "PUT with a matching If-Match replaces the whole feature", method: "PUT", url: item, role: domain.RoleOfficer,
			headers: []string{"If-Match", `"1"`},
			body: incidentJSON(47.79, 30.52, map[string]any{
				"title": "Rocket impact inside the compound", "severity": 4, "status": "confirmed",
				"description": "One rocket struck the motor pool.", "country": "iq",
			}),
			status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"2"`)
				got := r.json()
				for key, want := range map[string]any{
					"version": 2.0, "severity": 4.0, "status": "confirmed", "title": "Rocket impact inside the compound",
					"country": "IQ", "created_at": dig(created, "properties", "created_at"),
				} {
					if v := dig(got, "properties", key); v != want {
						t.Errorf("properties.%s = %v, want %v", key, v, want)
					}
				}
				if tags := dig(got, "properties", "tags"); fmt.Sprint(tags) != "[]" {
					t.Errorf("tags %v survived a full replace", tags)
				}
				if fmt.Sprint(dig(got, "geometry", "coordinates")) != "[47.79 30.52]" {
					t.Errorf("geometry not replaced: %v", got["geometry"])
				}
			}},
		{name: "GET after PUT has ETag 2", method: "GET", url: item, role: domain.RoleAnalyst, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"2"`)
				if v := dig(r.json(), "properties", "severity"); v != 4.0 {
					t.Errorf("severity %v, want 4", v)
				}
			}},
		{name: "PATCH with a stale If-Match is 412", method: "PATCH", url: item, role: domain.RoleOfficer,
			headers: append([]string{"If-Match", `"1"`}, mergePatch...), body: `{"properties":{"severity":2}}`,
			status: http.StatusPreconditionFailed},
		{name: "PATCH changes severity and removes the description", method: "PATCH", url: item, role: domain.RoleOfficer,
			headers: append([]string{"If-Match", `"2"`}, mergePatch...),
			body:    `{"properties":{"severity":5,"description":null}}`, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"3"`)
				got := r.json()
				if v := dig(got, "properties", "severity"); v != 5.0 {
					t.Errorf("severity %v, want 5", v)
				}
				if v := dig(got, "properties", "description"); v != nil && v != "" {
					t.Errorf("description %q survived a null in the patch", v)
				}
				if v := dig(got, "properties", "title"); v != "Rocket impact inside the compound" {
					t.Errorf("title %v changed though the patch left it alone", v)
				}
				if v := dig(got, "properties", "status"); v != "confirmed" {
					t.Errorf("status %v changed though the patch left it alone", v)
				}
				if fmt.Sprint(dig(got, "geometry", "coordinates")) != "[47.79 30.52]" {
					t.Errorf("geometry changed by a properties patch: %v", got["geometry"])
				}
			}},
		{name: "PATCH without If-Match moves the geometry", method: "PATCH", url: item, role: domain.RoleOfficer,
			headers: mergePatch, body: `{"geometry":{"type":"Point","coordinates":[47.8123456,30.55]}}`, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				r.wantHeader("ETag", `"4"`)
				got := r.json()
				if fmt.Sprint(dig(got, "geometry", "coordinates")) != "[47.8123456 30.55]" {
					t.Errorf("geometry %v, want [47.8123456 30.55]", got["geometry"])
				}
				if v := dig(got, "properties", "severity"); v != 5.0 {
					t.Errorf("severity %v changed by a geometry patch", v)
				}
			}},
		{name: "PATCH by an analyst is 403", method: "PATCH", url: item, role: domain.RoleAnalyst,
			headers: mergePatch, body: `{"properties":{"severity":1}}`, status: http.StatusForbidden},
		{name: "DELETE with a stale If-Match is 412", method: "DELETE", url: item, role: domain.RoleAdmin,
			headers: []string{"If-Match", `"3"`}, status: http.StatusPreconditionFailed},
		{name: "DELETE by an officer is 403", method: "DELETE", url: item, role: domain.RoleOfficer, status: http.StatusForbidden},
		{name: "the record is still there at version 4", method: "GET", url: item, role: domain.RoleAnalyst, status: http.StatusOK,
			check: func(t *testing.T, r *response) { r.wantHeader("ETag", `"4"`) }},
		{name: "DELETE with a matching If-Match is 204", method: "DELETE", url: item, role: domain.RoleAdmin,
			headers: []string{"If-Match", `"4"`}, status: http.StatusNoContent,
			check: func(t *testing.T, r *response) {
				if r.Body.Len() != 0 {
					t.Errorf("204 with a body: %s", r.Body.String())
				}
			}},
		{name: "GET after DELETE is 404", method: "GET", url: item, role: domain.RoleAnalyst, status: http.StatusNotFound},
		{name: "PUT after DELETE is 404", method: "PUT", url: item, role: domain.RoleOfficer, body: incidentJSON(1, 1, nil), status: http.StatusNotFound},
		{name: "PATCH after DELETE is 404", method: "PATCH", url: item, role: domain.RoleOfficer, headers: mergePatch,
			body: `{"properties":{"severity":2}}`, status: http.StatusNotFound},
		{name: "DELETE again is 404", method: "DELETE", url: item, role: domain.RoleAdmin, status: http.StatusNotFound},
		{name: "the listing no longer contains it", method: "GET", url: incidentItems, role: domain.RoleAnalyst, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				got := r.json()
				if n := got["numberMatched"]; n != 1.0 {
					t.Errorf("numberMatched %v, want 1 (the bystander)", n)
				}
				var ids []string
				for _, f := range got["features"].([]any) {
					ids = append(ids, fmt.Sprint(dig(f, "id")))
				}
				if slices.Contains(ids, vars["id"]) || !slices.Contains(ids, strconv.FormatInt(bystander, 10)) {
					t.Errorf("listing ids %v; want the bystander %d and not the deleted %s", ids, bystander, vars["id"])
				}
			}},
		{name: "history keeps every version oldest first", method: "GET", url: item + "/history", role: domain.RoleAnalyst, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				vs, _ := r.json()["versions"].([]any)
				type want struct {
					op, by   string
					severity float64
				}
				wants := []want{
					{"create", "officer-tester", 1}, {"update", "officer-tester", 4}, {"update", "officer-tester", 5},
					{"update", "officer-tester", 5}, {"delete", "admin-tester", 5},
				}
				if len(vs) != len(wants) {
					t.Fatalf("%d versions, want %d: %s", len(vs), len(wants), r.Body.String())
				}
				prev := ""
				for i, w := range wants {
					v := vs[i]
					if got := dig(v, "version"); got != float64(i+1) {
						t.Errorf("versions[%d].version = %v, want %d", i, got, i+1)
					}
					if got := dig(v, "op"); got != w.op {
						t.Errorf("versions[%d].op = %v, want %s", i, got, w.op)
					}
					if got := dig(v, "changed_by"); got != w.by {
						t.Errorf("versions[%d].changed_by = %v, want %s", i, got, w.by)
					}
					at, _ := dig(v, "changed_at").(string)
					if at == "" || at < prev {
						t.Errorf("versions[%d].changed_at %q is empty or before %q", i, at, prev)
					}
					prev = at
					if got := fmt.Sprint(dig(v, "feature", "id")); got != vars["id"] {
						t.Errorf("versions[%d].feature.id = %v, want %s", i, got, vars["id"])
					}
					if got := dig(v, "feature", "type"); got != "Feature" {
						t.Errorf("versions[%d].feature.type = %v", i, got)
					}
					if got := dig(v, "feature", "properties", "severity"); got != w.severity {
						t.Errorf("versions[%d].feature severity %v, want %v", i, got, w.severity)
					}
					if got := dig(v, "feature", "properties", "version"); got != float64(i+1) {
						t.Errorf("versions[%d].feature.properties.version = %v, want %d", i, got, i+1)
					}
				}
				if got := fmt.Sprint(dig(vs[0], "feature", "geometry", "coordinates")); got != "[47.7804 30.5089]" {
					t.Errorf("first version geometry %s, want the original", got)
				}
			}},
		{name: "history of an id that never existed is 404", method: "GET", url: incidentItems + "/987654/history",
			role: domain.RoleAnalyst, status: http.StatusNotFound},
	})
}

// TestIfMatchForms checks the If-Match spellings clients send: a strong
// tag, a weak one (which never matches), a list and "*"; and If-None-Match
// on a write.
func TestIfMatchForms(t *testing.T) {
	e := newEnv(t)
	id := e.createIncident(44.36, 33.31, nil)
	url := incidentItems + "/" + strconv.FormatInt(id, 10)
	tests := []struct {
		name, ifMatch string
		version       int // the record's version before the request
		want          int
	}{
		{"strong tag", `"1"`, 1, http.StatusOK},
		// RFC 9110 §13.1.1: If-Match compares strongly, a weak tag never matches.
		{"weak tag of the current version", `W/"2"`, 2, http.StatusPreconditionFailed},
		{"list of weak tags only", `W/"1", W/"2"`, 2, http.StatusPreconditionFailed},
		{"star", `*`, 2, http.StatusOK},
		{"list holding the current tag", `"9", "3"`, 3, http.StatusOK},
		{"list holding it only as a weak tag", `"9", W/"4"`, 4, http.StatusPreconditionFailed},
		{"list without it", `"1", "2"`, 4, http.StatusPreconditionFailed},
		{"bare number, not an entity tag", `4`, 4, http.StatusPreconditionFailed},
		{"If-None-Match naming the current tag on a write", "", 4, http.StatusPreconditionFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := []string{"Content-Type", "application/merge-patch+json", "If-Match", tc.ifMatch}
			if tc.ifMatch == "" {
				hs = []string{"Content-Type", "application/merge-patch+json", "If-None-Match", etagOf(tc.version)}
			}
			r := e.in(t).do("PATCH", url, `{"properties":{"title":"`+tc.name+`"}}`, domain.RoleOfficer, hs...)
			if tc.want >= 400 {
				r.wantProblem(tc.want, "")
				e.in(t).do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).wantHeader("ETag", etagOf(tc.version))
				return
			}
			r.wantStatus(tc.want).wantHeader("ETag", etagOf(tc.version+1))
		})
	}
}

func etagOf(v int) string { return `"` + strconv.Itoa(v) + `"` }

// TestOptionsAllow checks that OPTIONS lists exactly the methods the
// caller's role may use, which QGIS reads to decide if a layer is editable.
func TestOptionsAllow(t *testing.T) {
	e := newEnv(t)
	inc := e.createIncident(44.36, 33.31, nil)
	fac := e.createFacility(47.78, 30.51, "Consulate General Basrah")
	incItem := incidentItems + "/" + strconv.FormatInt(inc, 10)
	facItem := "/collections/facilities/items/" + strconv.FormatInt(fac, 10)
	tests := []struct {
		url  string
		role domain.Role
		want string
	}{
		{incidentItems, domain.RoleAnalyst, "GET, HEAD, OPTIONS"},
		{incidentItems, domain.RoleOfficer, "GET, HEAD, OPTIONS, POST"},
		{incidentItems, domain.RoleAdmin, "GET, HEAD, OPTIONS, POST"},
		{incItem, domain.RoleAnalyst, "GET, HEAD, OPTIONS"},
		{incItem, domain.RoleOfficer, "GET, HEAD, OPTIONS, PATCH, PUT"},
		{incItem, domain.RoleAdmin, "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"},
		{"/collections/facilities/items", domain.RoleAnalyst, "GET, HEAD, OPTIONS"},
		{"/collections/facilities/items", domain.RoleOfficer, "GET, HEAD, OPTIONS"},
		{"/collections/facilities/items", domain.RoleAdmin, "GET, HEAD, OPTIONS, POST"},
		{facItem, domain.RoleAnalyst, "GET, HEAD, OPTIONS"},
		{facItem, domain.RoleOfficer, "GET, HEAD, OPTIONS"},
		{facItem, domain.RoleAdmin, "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"},
	}
	for _, tc := range tests {
		t.Run(string(tc.role)+" "+tc.url, func(t *testing.T) {
			r := e.in(t).do("OPTIONS", tc.url, nil, tc.role).wantStatus(http.StatusNoContent)
			var got []string
			for _, m := range strings.Split(r.Header().Get("Allow"), ",") {
				if m = strings.TrimSpace(m); m != "" {
					got = append(got, m)
				}
			}
			slices.Sort(got)
			if strings.Join(got, ", ") != tc.want {
				t.Errorf("Allow %q, want %s", r.Header().Get("Allow"), tc.want)
			}
		})
	}
	t.Run("without a token", func(t *testing.T) {
		e.in(t).do("OPTIONS", incidentItems, nil, "").wantProblem(http.StatusUnauthorized, "")
	})
}

// TestConcurrentWriters sends many creates and patches through the router
// at once: none may fail with a 5xx, none may be lost, and every patch that
// succeeded must count in the version.
func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t)
	target := e.createIncident(44.36, 33.31, nil)
	targetURL := incidentItems + "/" + strconv.FormatInt(target, 10)
	const writers, perWriter, patchers, patchesEach = 8, 25, 4, 10

	type result struct {
		op     string
		status int
		body   string
	}
	results := make(chan result, writers*perWriter+patchers*patchesEach)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				body, _ := json.Marshal(incidentJSON(44+float64(w)/10, 33+float64(i)/100,
					map[string]any{"title": fmt.Sprintf("writer %d post %d", w, i)}))
				r := e.do("POST", incidentItems, body, domain.RoleOfficer)
				results <- result{"POST", r.Code, r.Body.String()}
			}
		}()
	}
	for p := range patchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range patchesEach {
				body := []byte(fmt.Sprintf(`{"properties":{"description":"patcher %d patch %d","severity":%d}}`, p, i, 1+(p+i)%5))
				r := e.do("PATCH", targetURL, body, domain.RoleOfficer, "Content-Type", "application/merge-patch+json")
				results <- result{"PATCH", r.Code, r.Body.String()}
			}
		}()
	}
	wg.Wait()
	close(results)

	created, patched := 0, 0
	for r := range results {
		switch {
		case r.status >= 500:
			t.Errorf("%s answered %d: %s", r.op, r.status, r.body)
		case r.op == "POST" && r.status == http.StatusCreated:
			created++
		case r.op == "PATCH" && r.status == http.StatusOK:
			patched++
		default:
			t.Errorf("%s answered %d: %s", r.op, r.status, r.body)
		}
	}
	t.Run("every POST is stored", func(t *testing.T) {
		if created != writers*perWriter {
			t.Errorf("%d POSTs answered 201, want %d", created, writers*perWriter)
		}
		if n := e.in(t).count(incidentItems + "?limit=1"); n != writers*perWriter+1 {
			t.Errorf("numberMatched %d, want %d", n, writers*perWriter+1)
		}
	})
	t.Run("every POST is listed once", func(t *testing.T) {
		ids := e.in(t).ids(incidentItems + "?limit=1000")
		seen := map[int64]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("id %d listed twice", id)
			}
			seen[id] = true
		}
		if len(ids) != writers*perWriter+1 {
			t.Errorf("%d listed, want %d", len(ids), writers*perWriter+1)
		}
	})
	t.Run("the patched version counts every successful patch", func(t *testing.T) {
		if patched == 0 {
			t.Fatalf("no PATCH succeeded")
		}
		r := e.in(t).do("GET", targetURL, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		r.wantHeader("ETag", etagOf(1+patched))
		if v := dig(r.json(), "properties", "version"); v != float64(1+patched) {
			t.Errorf("version %v, want %d", v, 1+patched)
		}
		if n := len(e.in(t).history("incidents", target)); n != 1+patched {
			t.Errorf("%d history versions, want %d", n, 1+patched)
		}
	})
	t.Run("no PATCH without If-Match gives up", func(t *testing.T) {
		if patched != patchers*patchesEach {
			t.Errorf("%d of %d PATCHes without If-Match succeeded", patched, patchers*patchesEach)
		}
	})
}

// TestNoOpWritesMakeNoVersion: version counts changes, so a PUT of the
// feature as it is, or an empty merge patch, leaves version and history be.
func TestNoOpWritesMakeNoVersion(t *testing.T) {
	e := newEnv(t)
	id := e.createIncident(44.3955, 33.2986, map[string]any{"description": "three mortar rounds", "tags": []string{"izone"}})
	item := fmt.Sprintf("/collections/incidents/items/%d", id)
	cur := e.do("GET", item, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()
	for _, w := range []struct {
		method, body, ctype string
	}{
		{"PUT", mustJSON(t, cur), "application/geo+json"},
		{"PATCH", `{}`, "application/merge-patch+json"},
		{"PATCH", `{"properties": {"severity": 3}}`, "application/merge-patch+json"},
	} {
		r := e.do(w.method, item, w.body, domain.RoleOfficer, "Content-Type", w.ctype).wantStatus(http.StatusOK)
		if v := r.json()["properties"].(map[string]any)["version"]; v != 1.0 || r.Header().Get("ETag") != `"1"` {
			t.Errorf("%s %s: version %v, ETag %s; want 1 for a write that changes nothing", w.method, w.body, v, r.Header().Get("ETag"))
		}
	}
	r := e.do("PATCH", item, `{"properties": {"severity": 4}}`, domain.RoleOfficer, "Content-Type", "application/merge-patch+json").wantStatus(http.StatusOK)
	if v := r.json()["properties"].(map[string]any)["version"]; v != 2.0 {
		t.Errorf("a real change made version %v, want 2", v)
	}
	versions := e.do("GET", item+"/history", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()["versions"].([]any)
	if len(versions) != 2 {
		t.Errorf("%d history versions, want 2 (create and the one change)", len(versions))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
