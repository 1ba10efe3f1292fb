package main

import (
	"path/filepath"
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
