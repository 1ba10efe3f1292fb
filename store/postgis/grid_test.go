package postgis_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store/postgis"
	"github.com/postwatch/postwatch/store/storetest"
)

// TestGridFollowsCommitsOutOfIDOrder: replica A's write takes history id
// n and is held before its commit; replica B's write takes id n+1 and
// commits; a third replica's grid catches up, with B's row as the highest
// id it has seen. Then A commits. A follower reading "history rows past
// the last id" would never see A's incident; the grid must.
func TestGridFollowsCommitsOutOfIDOrder(t *testing.T) {
	admin(t)
	db := storetest.Open(t)
	ctx := context.Background()
	open := func() *postgis.Store {
		st, err := postgis.Open(ctx, db.DSN, postgis.Options{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	writerB, follower := open(), open()
	// A alerts a facility whose webhook row a raw transaction holds, so A
	// waits in its outbox insert, after its history row; B is too old to
	// alert anyone and takes no lock A holds.
	near := &domain.Facility{Location: [2]float64{44.36, 33.31}, Name: "A", Kind: "embassy"}
	if err := db.CreateFacility(ctx, near); err != nil {
		t.Fatal(err)
	}
	raw, hold := holdAlertsOf(t, db, near)
	box := geo.BBox{MinLon: 44.3, MinLat: 33.3, MaxLon: 44.4, MaxLat: 33.4}.Bounds()
	seen := func() []string {
		t.Helper()
		page, err := follower.FindIncidents(ctx, domain.IncidentFilter{BBox: box, Page: domain.Page{Limit: 10}})
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, h := range page.Items {
			titles = append(titles, h.Title)
		}
		slices.Sort(titles)
		if page.Matched != len(titles) {
			t.Errorf("numberMatched %d for %v", page.Matched, titles)
		}
		return titles
	}
	if got := seen(); len(got) != 0 {
		t.Fatalf("before any write the follower saw %v", got)
	}
	a, b := incident("A"), incident("B")
	a.OccurredAt = time.Now().Add(-time.Minute)
	doneA := make(chan error, 1)
	go func() { doneA <- db.CreateIncident(ctx, a) }()
	waitFor(t, raw, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`, 1, nil)
	if err := writerB.CreateIncident(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := seen(); !slices.Equal(got, []string{"B"}) {
		t.Fatalf("with B committed and A held, the follower saw %v, want [B]", got)
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	if got := seen(); !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("after A committed the follower saw %v, want [A B]", got)
	}
	// The premise: A's history id is below B's, yet B committed first.
	var idA, idB int64
	if err := raw.QueryRowContext(ctx, `SELECT (SELECT id FROM history WHERE collection = 'incidents' AND record_id = $1),
		(SELECT id FROM history WHERE collection = 'incidents' AND record_id = $2)`, strconv.FormatInt(a.ID, 10), strconv.FormatInt(b.ID, 10)).Scan(&idA, &idB); err != nil {
		t.Fatal(err)
	}
	if idA >= idB {
		t.Errorf("history ids A %d, B %d: the commits were not out of id order", idA, idB)
	}
}

// TestReadsEndAtTheirDeadlineWhileHistoryIsLocked: a lock on history (a
// VACUUM FULL, a migration) stalls the freshness check every grid read
// makes. Each read must still end at its own deadline, whether it leads
// the stalled round, leads the next or joins one, and reads answer again
// once the lock is gone.
func TestReadsEndAtTheirDeadlineWhileHistoryIsLocked(t *testing.T) {
	admin(t)
	db := storetest.Open(t)
	ctx := context.Background()
	inc := incident("locked out")
	if err := db.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	st, err := postgis.Open(ctx, db.DSN, postgis.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	<-st.GridReady()
	box := geo.BBox{MinLon: 44.3, MinLat: 33.3, MaxLon: 44.4, MaxLat: 33.4}.Bounds()
	reads := []struct {
		name string
		read func(ctx context.Context) error
	}{
		{"by id", func(ctx context.Context) error { _, err := st.FindIncidentByID(ctx, inc.ID); return err }},
		{"a page", func(ctx context.Context) error {
			_, err := st.FindIncidents(ctx, domain.IncidentFilter{BBox: box, Page: domain.Page{Limit: 10}})
			return err
		}},
	}
	raw := sqlDB(t, db.DSN)
	lock, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(ctx, `LOCK TABLE history IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	// Three of each: the first leads a round that stalls, the next leads
	// the round after it, the third joins that one.
	const timeout = 300 * time.Millisecond
	done := make(chan error, 3*len(reads))
	for i := range 3 * len(reads) {
		r := reads[i%len(reads)]
		go func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			err := r.read(ctx)
			switch took := time.Since(start); {
			case err == nil:
				done <- fmt.Errorf("%s answered while history was locked", r.name)
			case took > 3*timeout:
				done <- fmt.Errorf("%s took %s with a %s deadline", r.name, took, timeout)
			default:
				done <- nil
			}
		}()
		time.Sleep(20 * time.Millisecond)
	}
	for range 3 * len(reads) {
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a read still waits, long past its deadline, for the lock on history")
		}
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	for _, r := range reads {
		if err := r.read(ctx); err != nil {
			t.Errorf("%s, once the lock is gone: %v", r.name, err)
		}
	}
}
