package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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
