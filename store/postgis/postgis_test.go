package postgis_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strconv"
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

func incident(title string) *domain.Incident {
	return &domain.Incident{Location: [2]float64{44.36, 33.31}, Type: "protest", Title: title,
		OccurredAt: time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC), Severity: 2}
}

// TestOverlappingCreatesCommitInIDOrder: transaction A takes an id and is
// held up before committing; B starts meanwhile. Had B taken the next id
// and committed first, a follower reading "ids above the last I saw" would
// have moved past A's id before A committed, and never seen A. B waits for
// A instead, and the follower sees both, in order.
func TestOverlappingCreatesCommitInIDOrder(t *testing.T) {
	admin(t)
	db := storetest.Open(t)
	ctx := context.Background()
	raw := sqlDB(t, db.DSN)
	// A raw transaction holds the history key A's first version will take,
	// so A blocks after its id is assigned, until the raw one rolls back.
	hold, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	var burnt int64
	if err := hold.QueryRowContext(ctx, `SELECT nextval(pg_get_serial_sequence('incidents', 'id'))`).Scan(&burnt); err != nil {
		t.Fatal(err)
	}
	idA := burnt + 1
	if _, err := hold.ExecContext(ctx, `INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot)
		VALUES ('incidents', $1, 1, 'create', now(), 'test', '{}')`, strconv.FormatInt(idA, 10)); err != nil {
		t.Fatal(err)
	}
	a, b := incident("A"), incident("B")
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	waiting := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
	go func() { doneA <- db.CreateIncident(ctx, a) }()
	waitFor(t, raw, waiting, 1, nil)
	go func() { doneB <- db.CreateIncident(ctx, b) }()
	// B now waits on a lock too, or, were ids not committed in order, commits.
	waitFor(t, raw, waiting, 2, doneB)
	if seen, err := db.IncidentsAfter(ctx, 0, 10); err != nil || len(seen) != 0 {
		t.Fatalf("before any commit the follower saw %v (%v)", seen, err)
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
	if a.ID != idA || b.ID <= a.ID {
		t.Fatalf("ids A %d, B %d; want %d and above", a.ID, b.ID, idA)
	}
	seen, err := db.IncidentsAfter(ctx, 0, 10)
	if err != nil || len(seen) != 2 || seen[0].ID != a.ID || seen[1].ID != b.ID {
		t.Fatalf("the follower saw %v (%v), want A then B", seen, err)
	}
}

// waitFor polls query until it returns want, for up to ten seconds; a
// result on fail first fails the test.
func waitFor(t *testing.T, db *sql.DB, query string, want int, fail <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-fail:
			t.Fatalf("B finished (%v) while A, which took an id first, had not committed", err)
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
