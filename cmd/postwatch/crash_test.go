package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestKill9LosesNothingAcknowledged: with the default durability, every
// incident whose POST was answered 201 survives a SIGKILL mid-stream.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crash.db")
	srv := startServer(t, db)
	c := newClient(t, srv.base, newToken(t, db, "officer"))

	a, st, stop := newAcked(), &writerStats{}, make(chan struct{})
	wait := runWriters(c, 8, "crash", a, st, stop)
	time.Sleep(2500 * time.Millisecond)
	srv.kill()
	// Let in-flight requests fail against the dead server, then stop.
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wait()

	want := a.snapshot()
	t.Logf("%d incidents acknowledged, %d responses, %d requests without a response", len(want), st.responses, st.errors)
	for _, b := range st.bad {
		t.Errorf("before the kill: %s", b)
	}
	if len(want) < 20 {
		t.Fatalf("only %d writes were acknowledged in 2.5 s; the test proves little", len(want))
	}
	if srv.state.Success() {
		t.Fatalf("serve exited cleanly (%v); SIGKILL should have ended it", srv.state)
	}

	// The database as the crash left it (WAL and all) is intact.
	integrityCheck(t, db)

	srv2 := startServer(t, db)
	c2 := newClient(t, srv2.base, c.token)
	checkAcked(t, c2, want)
	// Nothing but the writers' incidents exists, and at most one write per
	// writer can have committed without its answer reaching the client.
	if n := c2.numberMatched(""); n < len(want) || n > len(want)+8 {
		t.Errorf("%d incidents stored, %d acknowledged; want between %d and %d", n, len(want), len(want), len(want)+8)
	}
	if state := srv2.stop(10 * time.Second); !state.Success() {
		t.Errorf("restarted serve exited with %v", state)
	}
	integrityCheck(t, db)
}

// TestSIGTERMFinishesInFlightRequests: SIGTERM under write load answers
// every request it accepted with a complete body, exits 0 within the grace
// period, and loses no acknowledged write.
func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shutdown.db")
	srv := startServer(t, db)
	c := newClient(t, srv.base, newToken(t, db, "officer"))

	a, st, stop := newAcked(), &writerStats{}, make(chan struct{})
	wait := runWriters(c, 8, "shutdown", a, st, stop)
	time.Sleep(time.Second)
	before := len(a.snapshot())
	start := time.Now()
	state := srv.stop(shutdownGrace + 5*time.Second)
	took := time.Since(start)
	close(stop)
	wait()

	want := a.snapshot()
	t.Logf("%d acknowledged (%d before SIGTERM), %d responses, %d requests without a response; exit after %v",
		len(want), before, st.responses, st.errors, took)
	for _, b := range st.bad {
		t.Errorf("a response around SIGTERM: %s", b)
	}
	if before < 10 {
		t.Fatalf("only %d writes acknowledged before SIGTERM; the test proves little", before)
	}
	if !state.Success() {
		t.Errorf("serve exited with %v after SIGTERM, want status 0\n%s", state, tail(srv.log.String(), 30))
	}
	if took > shutdownGrace {
		t.Errorf("serve took %v to exit, longer than the grace period %v", took, shutdownGrace)
	}

	srv2 := startServer(t, db)
	c2 := newClient(t, srv2.base, c.token)
	checkAcked(t, c2, want)
	// A graceful stop answers every request it commits: nothing is stored
	// that the client was not told about.
	if n := c2.numberMatched(""); n != len(want) {
		t.Errorf("%d incidents stored, %d acknowledged; a write committed without its answer", n, len(want))
	}
}

// TestKill9DeliversWebhooksAfterRestart: alerts whose incident writes were
// acknowledged reach the webhook although serve is killed with SIGKILL
// before delivering them (the receiver was failing until then): the
// restarted server delivers each, with the webhook-id it had before.
func TestKill9DeliversWebhooksAfterRestart(t *testing.T) {
	var up atomic.Bool
	var mu sync.Mutex
	ids := map[string]int{}        // webhook-id → requests
	delivered := map[string]bool{} // webhook-ids answered 2xx
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ids[r.Header.Get("webhook-id")]++
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		delivered[r.Header.Get("webhook-id")] = true
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	db := filepath.Join(t.TempDir(), "hooks.db")
	srv := startServer(t, db)
	c := newClient(t, srv.base, newToken(t, db, "admin"))
	fac := []byte(`{"type":"Feature","geometry":{"type":"Point","coordinates":[47.6625,30.5489]},"properties":{"name":"Consulate General Basrah"}}`)
	if status, body, err := c.request("POST", "/collections/facilities/items", fac); err != nil || status != http.StatusCreated {
		t.Fatalf("facility: %d %s %v", status, body, err)
	}
	hook := []byte(`{"url":"` + receiver.URL + `/hook"}`)
	if status, body, err := sendRequest(c.http, "POST", c.base+"/webhooks", c.token, "application/json", hook); err != nil || status != http.StatusCreated {
		t.Fatalf("webhook: %d %s %v", status, body, err)
	}
	const n = 5
	for i := range n {
		inc := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[47.665,30.55]},"properties":{"type":"indirect_fire","title":"Rockets %d","occurred_at":%q,"severity":4}}`,
			i, time.Now().UTC().Format(time.RFC3339))
		if status, body, err := c.request("POST", "/collections/incidents/items", []byte(inc)); err != nil || status != http.StatusCreated {
			t.Fatalf("incident: %d %s %v", status, body, err)
		}
	}
	srv.kill()
	mu.Lock()
	before := len(ids)
	mu.Unlock()
	up.Store(true)

	startServer(t, db)
	// Items the killed process had claimed come back when their lease
	// (delivery.DefaultLease, 20 s) ends; the others at their next retry.
	deadline := time.Now().Add(45 * time.Second)
	for {
		mu.Lock()
		got, seen := len(delivered), len(ids)
		mu.Unlock()
		if got == n {
			if seen != n {
				t.Fatalf("%d webhook-ids for %d alerts: a retry changed its id", seen, n)
			}
			t.Logf("%d alerts attempted before the kill, all %d delivered after the restart", before, n)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d alerts delivered 45 s after the restart", got, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKill9DuringLargeImport: an import of many records leaves the R*Tree
// to a rebuild at its end. Killed with SIGKILL before it, the server on the
// same file still finds every committed incident by place (it tests the
// rows while the tree is stale), and the next start once the mark is a
// minute old rebuilds the tree: SQLite's rtreecheck passes and the tree
// holds every live incident.
func TestKill9DuringLargeImport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "import.db")
	file := filepath.Join(dir, "many.geojsonl")
	var b strings.Builder
	const lines = 150_000
	for n := range lines {
		fmt.Fprintf(&b, `{"type":"Feature","geometry":{"type":"Point","coordinates":[%.5f,%.5f]},"properties":{"type":"protest","title":"bulk %d","occurred_at":"2021-03-01T10:00:00Z"}}`+"\n",
			40+float64(n%1000)/100, 30+float64(n/1000)/20, n)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, db)
	c := newClient(t, srv.base, newToken(t, db, "officer"))

	imp := exec.Command(binary(t), "import", "--db", db, "--format", "geojson", file)
	imp.Env = cleanEnv()
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	// Past the 20,000 records after which the import stops feeding the tree.
	matched := func() int {
		var fc featureCollection
		c.getJSON("/collections/incidents/items?limit=1", &fc)
		return fc.NumberMatched
	}
	deadline := time.Now().Add(60 * time.Second)
	for matched() < 40_000 {
		if time.Now().After(deadline) {
			imp.Process.Kill()
			t.Fatalf("the import stored %d records in 60 s", matched())
		}
		time.Sleep(20 * time.Millisecond)
	}
	imp.Process.Kill()
	if err := imp.Wait(); err == nil {
		t.Fatalf("the import finished (%d lines) before it was killed; the test proves nothing", lines)
	}
	stored := matched()
	if stored >= lines {
		t.Fatalf("all %d records stored before the kill; the test proves nothing", stored)
	}
	if stale := treeState(t, db); stale == "" {
		t.Fatal("the killed import left the R*Tree current; the test proves nothing")
	}
	// The text filter takes these queries past the grid, to the SQL that
	// prefilters with the tree.
	// The grid's wide box, which would walk the dropped occurred_at
	// index, and the sort that index serves.
	for _, q := range []string{
		"&q=bulk&bbox=39,29,51,38",
		"&q=bulk&filter=" + url.QueryEscape("S_INTERSECTS(geometry,POLYGON((39 29,51 29,51 38,39 38,39 29)))"),
		"&bbox=-180,-90,180,90",
		"&q=bulk&sortby=-occurred_at",
	} {
		if n := c.numberMatched(q); n != stored {
			t.Errorf("while the tree is stale, %s matches %d of the %d stored", q, n, stored)
		}
	}

	if state := srv.stop(10 * time.Second); !state.Success() {
		t.Fatalf("serve exited with %v", state)
	}
	// A minute later, as far as the mark tells: an import that renewed it
	// since could still be running, and would rebuild the tree itself.
	ageMark(t, db, 2*time.Minute)
	srv2 := startServer(t, db)
	c2 := newClient(t, srv2.base, c.token)
	if stale := treeState(t, db); stale != "" {
		t.Errorf("after a restart the R*Tree is still stale: %s", stale)
	}
	if n := c2.numberMatched("&q=bulk&bbox=39,29,51,38"); n != stored {
		t.Errorf("after the rebuild the bbox matches %d of the %d stored", n, stored)
	}
	integrityCheck(t, db)
}

// ageMark moves the stale R*Tree mark's stamp back by d.
func ageMark(tb testing.TB, path string, d time.Duration) {
	tb.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE incidents_rtree_stale SET at = at - ?`, d.Microseconds()); err != nil {
		tb.Fatal(err)
	}
}

// treeState is "" when the incidents R*Tree passes SQLite's rtreecheck and
// holds one entry per live incident, and the occurred_at index the same
// import drops is there, else what is wrong.
func treeState(tb testing.TB, path string) string {
	tb.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var check string
	var entries, live, index int
	if err := db.QueryRow(`SELECT rtreecheck('incidents_rtree'), (SELECT count(*) FROM incidents_rtree),
		(SELECT count(*) FROM incidents WHERE deleted_at IS NULL),
		(SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'incidents_occurred_at')`).Scan(&check, &entries, &live, &index); err != nil {
		tb.Fatal(err)
	}
	if check != "ok" || entries != live || index != 1 {
		return fmt.Sprintf("rtreecheck %q, %d entries for %d live incidents, %d occurred_at index", check, entries, live, index)
	}
	return ""
}
