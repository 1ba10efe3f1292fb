package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // driver "sqlite3": a second process's connection

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

// otherProcess opens the env's database file as another process would.
func otherProcess(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRenderFailureIsNot200 plants rows that cannot be written as JSON
// (years a check now refuses, stored by an older build) and checks that
// each route answers a 500 problem, never a 200 with an empty body.
func TestRenderFailureIsNot200(t *testing.T) {
	path := filepath.Join(t.TempDir(), "render.db")
	e := newEnvAt(t, path, sqlite.Options{})
	fac := strconv.FormatInt(e.createFacility(47.78, 30.51, "Basrah"), 10)
	e.do("POST", "/collections/facilities/items/"+fac+"/postures", map[string]any{"posture": "elevated", "effective_at": "2018-09-08T05:00:00Z"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	db := otherProcess(t, path)
	year0 := time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC).UnixMicro()
	if _, err := db.Exec(`UPDATE postures SET effective_at = ?`, year0); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/collections/facilities/items/"+fac+"/postures", nil, domain.RoleAnalyst)
	r.wantProblem(http.StatusInternalServerError, "")
}

// TestBusyDatabaseIs503 holds the write lock from another process, as an
// import does, and checks that API writes answer 503 with Retry-After
// within the store's busy timeout, write nothing, and go through once the
// lock is released.
func TestBusyDatabaseIs503(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	e := newEnvAt(t, path, sqlite.Options{BusyTimeout: 300 * time.Millisecond})
	id := strconv.FormatInt(e.createIncident(44.36, 33.31, nil), 10)
	for _, a := range []string{"kh", "kh2"} {
		e.do("POST", "/actors", map[string]any{"id": a, "name": a}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	db := otherProcess(t, path)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	mp := []string{"Content-Type", "application/merge-patch+json"}
	writes := []step{
		{name: "POST an incident", method: "POST", url: incidentItems, body: incidentJSON(44.36, 33.31, nil), role: domain.RoleOfficer},
		{name: "PATCH an incident", method: "PATCH", url: incidentItems + "/" + id, body: `{"properties":{"severity":5}}`, headers: mp, role: domain.RoleOfficer},
		{name: "DELETE an incident", method: "DELETE", url: incidentItems + "/" + id, role: domain.RoleAdmin},
		{name: "POST an actor", method: "POST", url: "/actors", body: map[string]any{"id": "qf", "name": "QF"}, role: domain.RoleOfficer},
		{name: "POST a relation", method: "POST", url: "/actors/kh/relations", body: map[string]any{"kind": "allied_with", "target_id": "kh2"}, role: domain.RoleOfficer},
		{name: "POST a token", method: "POST", url: "/tokens", body: map[string]any{"name": "n", "role": "analyst"}, role: domain.RoleAdmin},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			start := time.Now()
			r := e.in(t).do(w.method, w.url, w.body, w.role, w.headers...)
			r.wantProblem(http.StatusServiceUnavailable, "")
			if r.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("waited %v for the lock", d)
			}
		})
	}
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	t.Run("nothing was written and writes go through again", func(t *testing.T) {
		e := e.in(t)
		if n := e.count(incidentItems); n != 1 {
			t.Errorf("%d incidents, want 1", n)
		}
		e.do("GET", incidentItems+"/"+id, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).wantHeader("ETag", `"1"`)
		e.do("POST", incidentItems, incidentJSON(44.36, 33.31, nil), domain.RoleOfficer).wantStatus(http.StatusCreated)
	})
}

// syncBuffer is a log sink that handlers may write to concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClientHangUpIsNotAnError sends requests whose client has already
// gone and checks that none is logged as an error or counted as a 5xx.
func TestClientHangUpIsNotAnError(t *testing.T) {
	e := newEnv(t)
	e.createIncident(44.36, 33.31, nil)
	var logs syncBuffer
	srv, err := api.New(api.Services{Incidents: e.store, Facilities: e.store, Actors: e.store, Tokens: e.store, DB: e.store},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{incidentItems, incidentItems + "?q=rockets", "/stats/incidents?group_by=type", "/tiles/3/5/3.mvt", "/actors"} {
		t.Run(url, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			req := httptest.NewRequest("GET", url, nil).WithContext(ctx)
			req.Header.Set("Authorization", "Bearer "+e.tokens[domain.RoleAnalyst])
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code >= 500 && rec.Code != 499 {
				t.Errorf("status %d for a client that hung up", rec.Code)
			}
		})
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a hang-up was logged as an error:\n%s", logs.String())
	}
}

// TestOversizedHeadIs431 checks the API's own limit on the request line
// and headers: a problem+json 431 naming what is too large.
func TestOversizedHeadIs431(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", api.MaxHeaderBytes)
	e.runSteps(t, nil, []step{
		{name: "96 KB query string", method: "GET", url: incidentItems + "?q=" + strings.Repeat("a", 96<<10), role: domain.RoleAnalyst, status: 431, field: "query"},
		{name: "long filter", method: "GET", url: incidentItems + "?filter=" + long, role: domain.RoleAnalyst, status: 431, field: "query"},
		{name: "long header", method: "GET", url: "/collections", role: domain.RoleAnalyst, headers: []string{"X-Padding", long}, status: 431, field: "headers"},
		{name: "unauthenticated too", method: "GET", url: "/collections?q=" + long, status: 431, field: "query"},
		{name: "just under the limit passes", method: "GET", url: "/collections", role: domain.RoleAnalyst, headers: []string{"X-Padding", long[:api.MaxHeaderBytes-1000]}, status: 200},
	})
}
