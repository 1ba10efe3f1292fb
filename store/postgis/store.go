// Package postgis implements postwatch's domain services on GORM and
// PostgreSQL with PostGIS: the same contract as store/sqlite, for
// deployments that run several API replicas on one database. Geometry is
// geometry(Point,4326) under GiST, times are timestamptz, q= searches a
// tsvector under GIN, ids come from identity sequences, and every write is
// one transaction whose If-Match check is a row lock, so many writers
// (replicas) may run at once.
package postgis

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/grid"
)

// DefaultMaxConns is the pool size of one process unless Options says
// otherwise: enough for two cores' worth of queries in flight and the
// writers waiting on row locks, few enough that ten replicas stay under
// PostgreSQL's default max_connections of 100.
const DefaultMaxConns = 8

// Durability is what an acknowledged write survives, as serve's
// --durability says it; PostgreSQL's synchronous_commit carries it out.
type Durability string

const (
	// DurabilityFull waits for the commit's WAL to reach the server's disk
	// (synchronous_commit as the server sets it, on by default): a commit
	// survives a crash of the server and a power loss.
	DurabilityFull Durability = "full"
	// DurabilityNormal sets synchronous_commit=off for this process's
	// sessions: a crash of postwatch loses nothing acknowledged, a crash of
	// the server may lose the last commits (up to three times
	// wal_writer_delay, 600 ms by default), never part of one.
	DurabilityNormal Durability = "normal"
)

// Options tune how the database is opened.
type Options struct {
	// MaxConns bounds the connections of the pool; 0 is DefaultMaxConns.
	MaxConns int
	// Durability is DurabilityFull when empty.
	Durability Durability
	// AlertWindow is how old an incident may be and still alert
	// (domain.AlertsFor); 0 means domain.DefaultAlertWindow.
	AlertWindow time.Duration
	// Signal, when set, is notified after every commit that stored alerts
	// or posture changes, waking this process's streams and webhook
	// workers; other replicas find them by polling the database.
	Signal *domain.Signal
	// NoGrid answers every query with SQL, without the in-memory grid (see
	// grid.go); maintenance commands, which ask no place-and-time
	// queries, set it, and tests compare the two paths.
	NoGrid bool
	// GridMergeCells tunes findInGrid (see grid.DefaultMergeCells).
	GridMergeCells int
	// IncidentCacheBytes bounds the grid's cache of incidents (0 is
	// grid.DefaultCacheBytes); a negative value turns the cache off.
	IncidentCacheBytes int
}

// Store is the PostGIS implementation of the domain services. Beside the
// token cache (store.TokenCacheTTL) it keeps only the grid and its cache,
// which follow every replica's writes before each query they answer (see
// pgFeed), so any number of processes may serve from one database.
type Store struct {
	db *gorm.DB
	// sqlDB is db's pool, for the reads that skip GORM (withConn).
	sqlDB *sql.DB
	// named: the reads by id run as named statements (the URL left the
	// exec mode to Open).
	named bool
	opts  Options
	// Now is the store's clock; tests set it.
	Now func() time.Time

	tokens store.TokenCache
	grid   *grid.Follower[pgSnapshot] // nil with Options.NoGrid
	// AlertServices serves alerts and webhooks from the shared tables.
	store.AlertServices
}

// Open connects to the PostgreSQL database named by dsn (a postgres:// or
// postgresql:// URL, libpq's keywords and PG* variables apply), checks
// that PostGIS is there or can be created, and applies pending migrations
// under an advisory lock, so replicas started together migrate once.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.AlertWindow <= 0 {
		opts.AlertWindow = domain.DefaultAlertWindow
	}
	if opts.GridMergeCells == 0 {
		opts.GridMergeCells = grid.DefaultMergeCells
	}
	if opts.IncidentCacheBytes == 0 {
		opts.IncidentCacheBytes = grid.DefaultCacheBytes
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "the database URL does not parse")
	}
	// Run-time parameters of every session (pgconn.ParseConfig).
	q := u.Query()
	switch opts.Durability {
	case "", DurabilityFull:
	case DurabilityNormal:
		q.Set("synchronous_commit", "off")
	default:
		return nil, domain.Errorf(domain.EINVALID, "durability %q is not full or normal", opts.Durability)
	}
	// A statement prepared by name may get a generic plan after five runs,
	// which cannot tell a 0.1° box from the whole region (5 orders of
	// magnitude in matches): planned for a small box, the region's page took
	// 1 s instead of 10 ms. So statements run as the unnamed statement, which
	// PostgreSQL plans for its parameters every time, and pgx caches only
	// their descriptions (still one round trip). The few statements whose
	// best plan is the same for every parameter ask for a named one
	// (pgx.QueryExecModeCacheStatement): planning the read by id each time
	// cost a third of its server time.
	// A URL that sets the mode itself (for a pooler that cannot hold named
	// statements, docs/operations.md) has it for every statement.
	named := !q.Has("default_query_exec_mode")
	if named {
		q.Set("default_query_exec_mode", "cache_describe")
	}
	u.RawQuery = q.Encode()
	dsn = u.String()
	db, err := gorm.Open(postgres.New(postgres.Config{DSN: dsn}), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", connectError(err))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(opts.MaxConns)
	sqlDB.SetMaxIdleConns(opts.MaxConns)
	// A connection lives an hour at most, so a database that fails over
	// behind a DNS name is followed within that time.
	sqlDB.SetConnMaxLifetime(time.Hour)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database: %w", connectError(err))
	}
	if err := migrate(ctx, sqlDB); err != nil {
		sqlDB.Close()
		return nil, err
	}
	s := &Store{db: db, sqlDB: sqlDB, named: named, opts: opts, Now: time.Now}
	s.AlertServices = store.AlertServices{Read: db, Transact: s.transact, Now: s.now, Translate: translate,
		Window: opts.AlertWindow, Signal: opts.Signal}
	if !opts.NoGrid {
		if err := s.startGrid(); err != nil {
			s.Close()
			return nil, fmt.Errorf("build grid: %w", err)
		}
	}
	return s, nil
}

// connectError shortens pgx's account of a failed connection to its cause.
func connectError(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		var pe *pgconn.PgError
		if errors.As(ce.Unwrap(), &pe) {
			return fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
		}
	}
	return err
}

// Close ends a grid build in progress and closes every connection.
func (s *Store) Close() error {
	if s.grid != nil {
		s.grid.Stop()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks that the database answers; EUNAVAILABLE when it does not.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return translate(s.db.WithContext(ctx).Raw(`SELECT 1`).Scan(&one).Error)
}

// InstanceID returns the database's UUID, which migration 3 made when the
// database was created.
func (s *Store) InstanceID(ctx context.Context) (string, error) {
	var id string
	err := store.FirstRow(s.db.WithContext(ctx).Raw(`SELECT value FROM meta WHERE key = 'instance_id'`).Rows()).Scan(&id)
	return id, translate(err)
}

// withConn runs fn on a connection of the pool as pgx's own *pgx.Conn,
// for the hot reads: pgx scans its binary results into typed fields,
// where GORM and database/sql would build the statement, box every value
// as a driver.Value and convert it again (most of the Go side of a read by
// id). fn must be done with the connection when it returns.
func (s *Store) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return fn(dc.(*stdlib.Conn).Conn()) })
}

// keptPlan prepends to args the exec mode of a statement whose best plan
// is the same for every parameter (a named statement PostgreSQL may keep a
// plan for), unless the URL chose the mode of every statement.
func keptPlan(named bool, args ...any) []any {
	if !named {
		return args
	}
	return append([]any{pgx.QueryExecModeCacheStatement}, args...)
}

// transact runs fn in one transaction (READ COMMITTED; writes that must
// see the latest committed row lock it first, see lockVersion).
func (s *Store) transact(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return translate(s.db.WithContext(ctx).Transaction(fn))
}

// findOne reads the first row of a query with scan; notFound when there
// is none.
func findOne[T any](db *gorm.DB, scan func(interface{ Scan(...any) error }) (T, error), notFound error, query string, args ...any) (*T, error) {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, notFound
	}
	v, err := scan(rows)
	return &v, err
}

// execOne runs a write in its own transaction; none when it touched no row.
func (s *Store) execOne(ctx context.Context, none error, query string, args ...any) error {
	return s.transact(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(query, args...)
		if res.Error == nil && res.RowsAffected == 0 {
			return none
		}
		return res.Error
	})
}

// now returns the store clock's time at the microsecond precision stored.
func (s *Store) now() time.Time {
	return s.Now().UTC().Truncate(time.Microsecond)
}

// ts is a time as stored: timestamptz keeps microseconds and rounds the
// rest, where SQLite's integer microseconds truncate; truncating first
// stores the same instant on both engines.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// tsPtr is ts of an optional time.
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

// utcPtr returns a scanned optional time in UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// translate maps storage errors to domain errors at the store boundary:
// no row → ENOTFOUND, unique violation → ECONFLICT, foreign key violation
// → EINVALID, a database that cannot be reached or went away → EUNAVAILABLE
// (a 503 the client may retry; the pool reconnects once it is back).
func translate(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	// A request past its deadline or cancelled is the caller's doing, not
	// the database's: the API answers it as a timeout.
	if errors.As(err, &de) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.ENOTFOUND, "not found")
	}
	// A connection that cannot be made, whatever the server said (down,
	// restarting, not accepting connections, a password changed), is the
	// database being unavailable.
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return unavailable(err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return domain.Errorf(domain.ECONFLICT, "a record with that key already exists")
		case pe.Code == "23503":
			return domain.Errorf(domain.EINVALID, "a referenced record does not exist")
		case pe.Code[:2] == "08", pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300":
			// connection exception, admin/crash shutdown, cannot connect now,
			// too many connections (PostgreSQL appendix A)
			return unavailable(err)
		}
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || pgconn.SafeToRetry(err) {
		return unavailable(err)
	}
	return err
}

// unavailableError is EUNAVAILABLE that keeps its cause for the log.
type unavailableError struct {
	de    *domain.Error
	cause error
}

// Error is the client's message with the cause, for the server's log; the
// API shows clients only the *domain.Error's message.
func (e unavailableError) Error() string { return e.de.Message + ": " + e.cause.Error() }

func (e unavailableError) Unwrap() []error { return []error{e.de, e.cause} }

func unavailable(cause error) error {
	return unavailableError{domain.Errorf(domain.EUNAVAILABLE, "the database does not answer; retry later"), cause}
}

// CopySource is this database as store.Copy reads it, in one REPEATABLE
// READ, READ ONLY transaction.
func (s *Store) CopySource() (store.CopyEnd, error) {
	db, err := s.db.DB()
	return store.CopyEnd{DB: db, Dialect: "postgres"}, err
}

// CopyDestination is this database as store.Copy writes it. The geometry
// columns are generated and the search column is written by the copy, so
// GiST and GIN follow the rows; nothing is left to finish.
func (s *Store) CopyDestination() (store.CopyEnd, error) {
	return s.CopySource()
}

// Analyze vacuums and analyzes the tables a bulk load fills (migrate,
// import). Autovacuum would get there, but only after a while: until then
// the planner takes the incidents table for empty and walks the GiST index
// over every row of a large box (seconds, not milliseconds), and without a
// visibility map no index-only scan can count matches. VACUUM cannot run
// in a transaction, so this is its own statement after the load commits.
func (s *Store) Analyze(ctx context.Context) error {
	db, err := s.db.DB()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `VACUUM (ANALYZE) incidents, incident_actors, facilities, actors, relations, postures`); err != nil {
		return fmt.Errorf("analyze after the load: %w", translate(err))
	}
	return nil
}
