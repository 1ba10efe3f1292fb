package postgis_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/postgis"
	"github.com/postwatch/postwatch/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// admin is the server the PostGIS pass tests on; these tests are about
// PostgreSQL itself, so the SQLite pass skips them (its own tests run there).
func admin(t *testing.T) string {
	t.Helper()
	a := os.Getenv(storetest.EnvPG)
	if a == "" {
		t.Skip("PostgreSQL's own behaviour; the PostGIS pass (" + storetest.EnvPG + ") runs it")
	}
	return a
}

func sqlDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// holdAlertsOf subscribes a webhook to facility f and holds its row in a
// raw transaction, so that a write alerting f waits in its outbox insert,
// after its history row and alert took their ids, until hold ends. It
// returns the raw pool too, for watching the waits.
func holdAlertsOf(t *testing.T, db *storetest.DB, f *domain.Facility) (raw *sql.DB, hold *sql.Tx) {
	t.Helper()
	ctx := context.Background()
	hook := &domain.Webhook{URL: "https://hooks.example.org/a", Facilities: []int64{f.ID}}
	if _, err := db.CreateWebhook(ctx, hook); err != nil {
		t.Fatal(err)
	}
	raw = sqlDB(t, db.DSN)
	hold, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hold.Rollback() })
	if _, err := hold.ExecContext(ctx, `SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE`, hook.ID); err != nil {
		t.Fatal(err)
	}
	return raw, hold
}

func incident(title string) *domain.Incident {
	return &domain.Incident{Location: [2]float64{44.36, 33.31}, Type: "protest", Title: title,
		OccurredAt: time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC), Severity: 2}
}

// TestOverlappingAlertsCommitInSeqOrder: transaction A stores an alert
// and is held up before committing; B, which alerts too, starts meanwhile.
// Had B taken the next seq and committed first, a stream reading "alerts
// after the last seq I saw" would have moved past A's seq before A
// committed, and never seen A's alert. B waits for A instead
// (store.AlertWriter's order lock), and the follower sees both, in order.
func TestOverlappingAlertsCommitInSeqOrder(t *testing.T) {
	admin(t)
	db := storetest.Open(t)
	ctx := context.Background()
	near, far := &domain.Facility{Location: [2]float64{44.36, 33.31}, Name: "A", Kind: "embassy"},
		&domain.Facility{Location: [2]float64{47.78, 30.51}, Name: "B", Kind: "consulate"}
	for _, f := range []*domain.Facility{near, far} {
		if err := db.CreateFacility(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// Only A's alert is owed to this subscription, so only A writes to the
	// outbox, and a raw transaction holding the subscription's row holds A
	// there: after its alert took a seq, before its commit.
	raw, hold := holdAlertsOf(t, db, near)
	a, b := incident("A"), incident("B")
	a.Location, b.Location = near.Location, far.Location
	a.OccurredAt, b.OccurredAt = time.Now().Add(-time.Minute), time.Now().Add(-time.Minute)
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	waiting := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
	go func() { doneA <- db.CreateIncident(ctx, a) }()
	waitFor(t, raw, waiting, 1, nil)
	go func() { doneB <- db.CreateIncident(ctx, b) }()
	// B now waits on a lock too, or, were seqs not committed in order, commits.
	waitFor(t, raw, waiting, 2, doneB)
	if page, err := db.FindAlerts(ctx, domain.AlertFilter{Limit: 10}); err != nil || len(page.Items) != 0 {
		t.Fatalf("before any commit the follower saw %v (%v)", page, err)
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
	page, err := db.FindAlerts(ctx, domain.AlertFilter{Limit: 10})
	if err != nil || len(page.Items) != 2 || page.Items[0].IncidentID != a.ID || page.Items[1].IncidentID != b.ID ||
		page.Items[0].Seq >= page.Items[1].Seq {
		t.Fatalf("the follower saw %+v (%v), want A's alert then B's", page, err)
	}
}

// waitFor polls query until it returns want, for up to ten seconds; a
// result on fail first fails the test.
func waitFor(t *testing.T, db *sql.DB, query string, want int, fail <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-fail:
			t.Fatalf("B finished (%v) while A, which took its seq first, had not committed", err)
		default:
		}
		var n int
		if err := db.QueryRow(query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
	}
	t.Fatalf("%s never returned %d", query, want)
}

// TestReplicasStartedTogetherMigrateOnce: several processes opening one
// empty database at once create PostGIS and the schema once, and all serve.
func TestReplicasStartedTogetherMigrateOnce(t *testing.T) {
	dsn := storetest.EmptyDatabase(t, admin(t))
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := postgis.Open(context.Background(), dsn, postgis.Options{MaxConns: 2})
			if err == nil {
				err = st.Ping(context.Background())
				st.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	var versions, applied int
	if err := sqlDB(t, dsn).QueryRow(`SELECT count(DISTINCT version), count(*) FROM schema_migrations`).Scan(&versions, &applied); err != nil {
		t.Fatal(err)
	}
	if versions == 0 || applied != versions {
		t.Fatalf("%d migrations recorded %d times", versions, applied)
	}
}

// TestOpenErrors: what an operator gets wrong at start is one line that
// says what to do.
func TestOpenErrors(t *testing.T) {
	a := admin(t)
	u, _ := url.Parse(storetest.EmptyDatabase(t, a))
	role := "pw_role_" + strings.TrimPrefix(u.Path, "/pw_test_")
	adminDB := sqlDB(t, a)
	if _, err := adminDB.Exec(`CREATE ROLE ` + role + ` LOGIN`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adminDB.Exec(`DROP ROLE IF EXISTS ` + role) })
	asRole := *u
	asRole.User = url.User(role)
	down := *u
	down.Host = "127.0.0.1:1"
	noRole := *u
	noRole.User = url.User("pw_no_such_role")
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"PostGIS missing and the role may not create it", asRole.String(), "PostGIS is not installed in this database"},
		{"server down", down.String(), "connect: connection refused"},
		{"unknown role", noRole.String(), `role "pw_no_such_role" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := postgis.Open(context.Background(), tc.dsn, postgis.Options{})
			if err == nil {
				st.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q, want one line containing %q", err, tc.want)
			}
		})
	}
}

// TestHistoryIsAppendOnly: the database itself refuses to rewrite history,
// whoever asks.
func TestHistoryIsAppendOnly(t *testing.T) {
	admin(t)
	db := storetest.Open(t)
	if err := db.CreateIncident(context.Background(), incident("kept")); err != nil {
		t.Fatal(err)
	}
	raw := sqlDB(t, db.DSN)
	for _, stmt := range []string{`UPDATE history SET changed_by = 'someone else'`, `DELETE FROM history`} {
		if _, err := raw.Exec(stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", stmt, err)
		}
	}
}
