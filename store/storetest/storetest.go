// Package storetest opens a fresh database for a test on the engine the
// run is for: a SQLite file in the test's temporary directory, or, when
// POSTWATCH_TEST_PG names a PostgreSQL server (a postgres:// URL to a
// database the role may create databases from, such as postgres), a new
// PostGIS database that is dropped when the test ends. `make test` runs
// the API and store suites once on each engine, so every scenario written
// against Open is proved on both.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the admin connection

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/postgis"
	"github.com/postwatch/postwatch/store/sqlite"
)

// EnvPG names the variable that selects the PostGIS engine.
const EnvPG = "POSTWATCH_TEST_PG"

// DB is a store opened for one test.
type DB struct {
	store.Services
	// Now is the store's clock, to be set by tests that travel in time.
	Now *func() time.Time
	// Engine is "sqlite" or "postgis".
	Engine string
	// DSN is what the store was opened with: a file path or a URL.
	DSN string
	// Signal is notified after commits that store alerts or postures.
	Signal *domain.Signal
}

// PostGIS reports whether this run tests the PostGIS engine.
func PostGIS() bool { return os.Getenv(EnvPG) != "" }

// Open opens a fresh, empty, migrated database for t, closed (and on
// PostGIS dropped) when t ends.
func Open(t testing.TB) *DB {
	t.Helper()
	if admin := os.Getenv(EnvPG); admin != "" {
		dsn := CreateDatabase(t, admin)
		signal := domain.NewSignal()
		st, err := postgis.Open(context.Background(), dsn, postgis.Options{MaxConns: 4, Signal: signal})
		if err != nil {
			t.Fatalf("open PostGIS test database: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return &DB{Services: st, Now: &st.Now, Engine: "postgis", DSN: dsn, Signal: signal}
	}
	path := filepath.Join(t.TempDir(), "test.db")
	signal := domain.NewSignal()
	st, err := sqlite.Open(path, sqlite.Options{Durability: sqlite.DurabilityNormal, Signal: signal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &DB{Services: st, Now: &st.Now, Engine: "sqlite", DSN: path, Signal: signal}
}

// Replica opens another store on db's database, as a second server
// process would (on SQLite, another connection pool on the same file),
// closed when t ends.
func (db *DB) Replica(t testing.TB) store.Services {
	t.Helper()
	if db.Engine == "postgis" {
		st, err := postgis.Open(context.Background(), db.DSN, postgis.Options{MaxConns: 4})
		if err != nil {
			t.Fatalf("open a replica: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st, err := sqlite.Open(db.DSN, sqlite.Options{Durability: sqlite.DurabilityNormal})
	if err != nil {
		t.Fatalf("open a replica: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// template is a database migrated once per test process, which each new
// test database copies (CREATE DATABASE … TEMPLATE): creating PostGIS and
// the schema anew costs about a second, copying a tenth of that.
var template struct {
	once sync.Once
	name string
	err  error
}

// CreateDatabase creates an empty database, migrated to the current
// schema, on the server of the admin URL and returns its URL; it is
// dropped, with any connection left to it, when t ends.
func CreateDatabase(t testing.TB, admin string) string {
	t.Helper()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPG, err)
	}
	defer db.Close()
	template.once.Do(func() { template.name, template.err = makeTemplate(db, admin) })
	if template.err != nil {
		t.Fatalf("%s: prepare the template database: %v", EnvPG, template.err)
	}
	name := "pw_test_" + randomHex()
	if err := createFrom(db, name, template.name); err != nil {
		t.Fatalf("%s: create test database: %v", EnvPG, err)
	}
	t.Cleanup(func() { dropDatabase(admin, name) })
	dsn := withDatabase(admin, name)
	// A copy of the template would share its instance id, which a
	// database must not share with another (domain.Database).
	fresh, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.Exec(`UPDATE meta SET value = CAST(gen_random_uuid() AS text) WHERE key = 'instance_id'`); err != nil {
		t.Fatalf("%s: new instance id: %v", EnvPG, err)
	}
	return dsn
}

// createFrom copies the template, retrying while another test's copy of it
// holds it (PostgreSQL allows one copy at a time).
func createFrom(db *sql.DB, name, tmpl string) error {
	var err error
	for range 50 {
		_, err = db.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + tmpl)
		var pe *pgconn.PgError
		if err == nil || !(errors.As(err, &pe) && pe.Code == "55006") {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// EmptyDatabase creates a database without PostGIS or any table on the
// server of the admin URL and returns its URL; it is dropped when t ends.
func EmptyDatabase(t testing.TB, admin string) string {
	t.Helper()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPG, err)
	}
	defer db.Close()
	name := "pw_test_" + randomHex()
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("%s: create test database: %v", EnvPG, err)
	}
	t.Cleanup(func() { dropDatabase(admin, name) })
	return withDatabase(admin, name)
}

// makeTemplate creates and migrates the process's template database.
func makeTemplate(db *sql.DB, admin string) (string, error) {
	name := "pw_tmpl_" + randomHex()
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		return "", err
	}
	st, err := postgis.Open(context.Background(), withDatabase(admin, name), postgis.Options{MaxConns: 1})
	if err != nil {
		dropDatabase(admin, name)
		return "", err
	}
	return name, st.Close()
}

// Cleanup drops the process's template database; a test package's
// TestMain calls it after the tests ran (see Main).
func Cleanup() {
	if admin := os.Getenv(EnvPG); admin != "" && template.name != "" {
		dropDatabase(admin, template.name)
	}
}

// Main runs a test package's tests and drops the template afterwards:
// func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	Cleanup()
	return code
}

func dropDatabase(admin, name string) {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return
	}
	defer db.Close()
	db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
}

// withDatabase is the admin URL with its database replaced by name.
func withDatabase(admin, name string) string {
	u, err := url.Parse(admin)
	if err != nil {
		panic(fmt.Sprintf("%s is not a URL: %v", EnvPG, err))
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SetReachable makes db's PostGIS database refuse new connections and
// ends the open ones (reachable false), as a database that went down does,
// or accept connections again (true).
func SetReachable(t testing.TB, db *DB, reachable bool) {
	t.Helper()
	admin := os.Getenv(EnvPG)
	u, err := url.Parse(db.DSN)
	if db.Engine != "postgis" || admin == "" || err != nil {
		t.Fatalf("SetReachable needs a PostGIS test database, not %s", db.Engine)
	}
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	name := u.Path[1:]
	if _, err := conn.Exec(fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %t`, name, reachable)); err != nil {
		t.Fatal(err)
	}
	if !reachable {
		if _, err := conn.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
			t.Fatal(err)
		}
	}
}
