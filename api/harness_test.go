package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
	"github.com/postwatch/postwatch/store/sqlite"
	"github.com/postwatch/postwatch/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// env is a server on a real database with one token per role: a SQLite
// file, or a fresh PostGIS database when POSTWATCH_TEST_PG is set
// (storetest.Open), so every scenario runs on both engines.
type env struct {
	t      *testing.T
	store  *storetest.DB
	server *api.Server
	tokens map[domain.Role]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, storetest.Open(t))
}

// newEnvAt opens a server on the SQLite file path with store options; two
// envs on one file see the same data through differently tuned stores.
// The scenarios that use it test SQLite's own strategies (the grid, the
// R*Tree, the count cap) and run on SQLite only.
func newEnvAt(t *testing.T, path string, opts sqlite.Options) *env {
	t.Helper()
	if storetest.PostGIS() {
		t.Skip("a scenario of SQLite's own query strategies; the SQLite pass runs it")
	}
	opts.Durability = sqlite.DurabilityNormal
	if opts.Signal == nil {
		opts.Signal = domain.NewSignal()
	}
	st, err := sqlite.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, &storetest.DB{Services: st, Now: &st.Now, Engine: "sqlite", DSN: path, Signal: opts.Signal})
}

// newEnvOn serves st, caching tiles as serve does when the engine tells
// its data version, so every tile scenario also runs through the cache.
func newEnvOn(t *testing.T, st *storetest.DB) *env {
	t.Helper()
	svc := api.Services{Incidents: st, Facilities: st, Actors: st, Tokens: st, Alerts: st, Webhooks: st, DB: st}
	if v, ok := st.Services.(domain.DataVersioner); ok {
		svc.Versions = v
	}
	return newEnvWith(t, st, svc, api.Options{AlertSignal: st.Signal})
}

// newEnvWith serves svc, whose services are st's or wrap them, with opts.
func newEnvWith(t *testing.T, st *storetest.DB, svc api.Services, opts api.Options) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := api.NewWithOptions(svc, log, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, server: srv, tokens: map[domain.Role]string{}}
	for _, role := range domain.Roles {
		secret, err := st.CreateToken(context.Background(), &domain.Token{Name: string(role) + "-tester", Role: role})
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[role] = secret
	}
	return e
}

// response is a recorded HTTP response.
type response struct {
	*httptest.ResponseRecorder
	t *testing.T
}

// do sends a request through the real router. body may be a string, []byte
// or any value to encode as JSON; role "" sends no token.
func (e *env) do(method, url string, body any, role domain.Role, headers ...string) *response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, url, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.server.ServeHTTP(rec, req)
	return &response{rec, e.t}
}

// json decodes the body into a generic value.
func (r *response) json() map[string]any {
	r.t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body.Bytes(), &v); err != nil {
		r.t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body.String())
	}
	return v
}

// wantStatus fails the test unless the status is want.
func (r *response) wantStatus(want int) *response {
	r.t.Helper()
	if r.Code != want {
		r.t.Fatalf("status %d, want %d; body: %s", r.Code, want, r.Body.String())
	}
	return r
}

// wantProblem checks a problem+json answer with status and, if field is
// set, an errors entry naming it.
func (r *response) wantProblem(status int, field string) {
	r.t.Helper()
	r.wantStatus(status)
	if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		r.t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := r.json()
	if int(p["status"].(float64)) != status || p["title"] == "" || p["type"] == "" {
		r.t.Fatalf("malformed problem: %s", r.Body.String())
	}
	if field == "" {
		return
	}
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		if e.(map[string]any)["field"] == field {
			return
		}
	}
	r.t.Fatalf("problem does not name field %q: %s", field, r.Body.String())
}

// incidentJSON is a valid incident Feature; edits are merged into properties.
func incidentJSON(lon, lat float64, props map[string]any) map[string]any {
	p := map[string]any{
		"type": "indirect_fire", "title": "Rockets near the consulate", "occurred_at": "2018-09-08T05:00:00Z",
		"severity": 3,
	}
	for k, v := range props {
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	return map[string]any{"type": "Feature", "geometry": map[string]any{"type": "Point", "coordinates": []any{lon, lat}}, "properties": p}
}

// createIncident posts an incident as an officer and returns its id.
func (e *env) createIncident(lon, lat float64, props map[string]any) int64 {
	e.t.Helper()
	r := e.do("POST", "/collections/incidents/items", incidentJSON(lon, lat, props), domain.RoleOfficer).wantStatus(http.StatusCreated)
	return int64(r.json()["id"].(float64))
}

func facilityJSON(lon, lat float64, name string) map[string]any {
	return map[string]any{"type": "Feature", "geometry": map[string]any{"type": "Point", "coordinates": []any{lon, lat}},
		"properties": map[string]any{"name": name, "kind": "consulate_general", "country": "IQ", "city": "Basrah"}}
}

func (e *env) createFacility(lon, lat float64, name string) int64 {
	e.t.Helper()
	r := e.do("POST", "/collections/facilities/items", facilityJSON(lon, lat, name), domain.RoleAdmin).wantStatus(http.StatusCreated)
	return int64(r.json()["id"].(float64))
}

// count returns numberMatched of an items query as an analyst.
func (e *env) count(url string) int {
	e.t.Helper()
	r := e.do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	return int(r.json()["numberMatched"].(float64))
}

// ids returns the feature ids of an items query, in order.
func (e *env) ids(url string) []int64 {
	e.t.Helper()
	r := e.do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	var out []int64
	for _, f := range r.json()["features"].([]any) {
		out = append(out, int64(f.(map[string]any)["id"].(float64)))
	}
	return out
}

// in returns a copy of the env that reports to t, so a helper called in a
// subtest fails that subtest rather than its parent.
func (e *env) in(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// step is one API scenario of a table: a request and what must come back.
type step struct {
	name    string
	method  string
	url     string // "{key}" is replaced by vars[key] when the step runs
	body    any    // as for env.do; a func() any is called when the step runs
	role    domain.Role
	headers []string
	status  int
	field   string                          // a 4xx/5xx problem must name this field in errors[]
	check   func(t *testing.T, r *response) // further checks; may set vars
}

// runSteps runs steps in order, each as a subtest. Every error answer must
// be problem+json. vars holds values steps hand to later ones.
func (e *env) runSteps(t *testing.T, vars map[string]string, steps []step) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var pairs []string
			for k, v := range vars {
				pairs = append(pairs, "{"+k+"}", v)
			}
			url := strings.NewReplacer(pairs...).Replace(s.url)
			body := s.body
			if f, ok := body.(func() any); ok {
				body = f()
			}
			headers := make([]string, len(s.headers))
			for i, h := range s.headers {
				headers[i] = strings.NewReplacer(pairs...).Replace(h)
			}
			r := e.in(t).do(s.method, url, body, s.role, headers...)
			if s.status >= 400 {
				r.wantProblem(s.status, s.field)
			} else {
				r.wantStatus(s.status)
			}
			if s.check != nil {
				s.check(t, r)
			}
		})
	}
}

// fields lists the errors[].field values of a problem answer.
func (r *response) fields() []string {
	r.t.Helper()
	var out []string
	errs, _ := r.json()["errors"].([]any)
	for _, e := range errs {
		if f, ok := e.(map[string]any)["field"].(string); ok {
			out = append(out, f)
		}
	}
	return out
}

// wantHeader fails the test unless header name is exactly want.
func (r *response) wantHeader(name, want string) *response {
	r.t.Helper()
	if got := r.Header().Get(name); got != want {
		r.t.Fatalf("%s %q, want %q", name, got, want)
	}
	return r
}

// dig returns the value at a path of object keys and array indexes
// ("properties", "actors", 0, "actor_id"), or nil when the path is absent.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// history returns the versions of a feature's history as an analyst.
func (e *env) history(collection string, id int64) []any {
	e.t.Helper()
	r := e.do("GET", "/collections/"+collection+"/items/"+strconv.FormatInt(id, 10)+"/history", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	vs, ok := r.json()["versions"].([]any)
	if !ok {
		e.t.Fatalf("history without versions: %s", r.Body.String())
	}
	return vs
}

// importSynthetic loads n synthetic incidents through the store, changed
// by edit when given.
func (e *env) importSynthetic(n int, seed uint64, edit func(i int, inc *domain.Incident)) {
	e.t.Helper()
	var batch []*domain.Incident
	for i, inc := range seeds.Synthetic(n, seed) {
		if edit != nil {
			edit(i, inc)
		}
		batch = append(batch, inc)
	}
	if _, err := e.store.ImportIncidents(context.Background(), batch, nil); err != nil {
		e.t.Fatal(err)
	}
}
