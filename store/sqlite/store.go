// Package sqlite implements postwatch's domain services on GORM and SQLite:
// versioned migrations, R*Tree spatial indexes, full-text search and record
// history, each write in one transaction.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/grid"
)

// Durability is the SQLite synchronous setting.
type Durability string

const (
	// DurabilityFull fsyncs the WAL at every commit: an acknowledged write
	// survives a process crash and a power loss.
	DurabilityFull Durability = "full"
	// DurabilityNormal fsyncs only at checkpoints: an acknowledged write
	// survives a process crash; a power loss may roll back the last commits.
	DurabilityNormal Durability = "normal"
)

// Options tune how the database is opened.
type Options struct {
	Durability Durability
	ReadConns  int // size of the read pool; 0 means four per CPU, at least 16
	// TreeSortMax tunes FindIncidents (see DefaultTreeSortMax); 0 takes the
	// default, a negative value means 0.
	TreeSortMax int
	// NoGrid answers place-and-time queries from the R*Tree alone, without
	// the in-memory grid (see package grid); tests compare the two.
	NoGrid bool
	// GridMergeCells tunes findInGrid (see grid.DefaultMergeCells).
	GridMergeCells int
	// IncidentCacheBytes bounds the grid's cache of incidents (see
	// DefaultIncidentCacheBytes); a negative value turns the cache off.
	IncidentCacheBytes int
	// BusyTimeout is how long a write waits for the lock another process
	// (an import, a backup's checkpoint) holds before the store gives up
	// with EUNAVAILABLE; 0 means DefaultBusyTimeout. A server sets it to a
	// few seconds, so a client gets a 503 with Retry-After rather than a
	// request stuck behind a bulk load.
	BusyTimeout time.Duration
	// AlertWindow is how old an incident may be and still alert
	// (domain.AlertsFor); 0 means domain.DefaultAlertWindow.
	AlertWindow time.Duration
	// ImportCacheMiB bounds the page cache of ImportStream's writer
	// connection, in MiB; 0 means DefaultImportCacheMiB. A smaller cache
	// suits records that dirty more pages per transaction than any cache
	// within a memory budget holds (see docs/performance.md, "ACLED import").
	ImportCacheMiB int
	// Signal, when set, is notified after every commit that stored alerts
	// or a posture change, so this process's streams and webhook workers
	// need not wait for their poll.
	Signal *domain.Signal
}

// DefaultBusyTimeout is Options.BusyTimeout when unset: long enough for a
// command-line write to get between an import's transactions.
const DefaultBusyTimeout = 10 * time.Second

// Store is the SQLite implementation of the domain services. Writes go
// through one connection, so SQLite never sees two writers from this
// process; reads use a pool of read-only connections, which WAL lets run
// beside the writer.
type Store struct {
	write *gorm.DB
	read  *gorm.DB
	path  string
	opts  Options
	// Now is the store's clock; tests set it.
	Now func() time.Time

	tokens store.TokenCache

	grid     *grid.Follower[int64] // nil with Options.NoGrid
	gridFeed *sqliteFeed

	// stopWatch ends watchTree (nil with Options.NoGrid), which closes
	// watchDone on its way out.
	stopWatch, watchDone chan struct{}

	// AlertServices serves alerts and webhooks from the shared tables.
	store.AlertServices
}

const driverName = "sqlite3_postwatch"

var registerDriver sync.Once

// Open opens (creating if needed) the SQLite database at path and applies
// pending migrations.
func Open(dsn string, opts Options) (*Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil, domain.Errorf(domain.EINVALID, "the PostgreSQL/PostGIS backend is not part of this build yet; use a SQLite file path")
	}
	if dsn == "" || strings.HasPrefix(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return nil, domain.Errorf(domain.EINVALID, "database must be a file path (each pooled connection to :memory: would see its own empty database)")
	}
	registerDriver.Do(registerSQLite)
	if opts.Durability == "" {
		opts.Durability = DurabilityFull
	}
	if opts.Durability != DurabilityFull && opts.Durability != DurabilityNormal {
		return nil, domain.Errorf(domain.EINVALID, "durability %q is not full or normal", opts.Durability)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = max(16, 4*runtime.NumCPU())
	}
	opts.TreeSortMax = orDefault(opts.TreeSortMax, DefaultTreeSortMax)
	opts.GridMergeCells = orDefault(opts.GridMergeCells, grid.DefaultMergeCells)
	opts.IncidentCacheBytes = orDefault(opts.IncidentCacheBytes, DefaultIncidentCacheBytes)
	if opts.AlertWindow <= 0 {
		opts.AlertWindow = domain.DefaultAlertWindow
	}
	path := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	params := url.Values{}
	params.Set("_journal_mode", "WAL")
	params.Set("_foreign_keys", "on")
	// REPLACE's implicit delete then fires DELETE triggers, so it cannot
	// rewrite the append-only history behind its triggers' back.
	params.Set("_recursive_triggers", "on")
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	params.Set("_busy_timeout", strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10))
	params.Set("_synchronous", strings.ToUpper(string(opts.Durability)))
	params.Set("_cache_size", "-32000")
	// database/sql hands a connection to one goroutine at a time, so
	// SQLite's per-connection mutex only costs (5 % of a bbox query).
	params.Set("_mutex", "no")
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// fails half-way on a lock another process (an import) holds.
	params.Set("_txlock", "immediate")
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	write, err := openGorm("file:"+path+"?"+params.Encode(), 1)
	if err != nil {
		return nil, err
	}
	if err := migrate(write); err != nil {
		closeGorm(write)
		return nil, err
	}
	// Fresh planner statistics for the general query plans; analysis_limit
	// keeps this to milliseconds on a large database.
	// One statement per Exec: with GORM's statement cache only the first
	// statement of a string runs.
	// It needs the write lock, which an import on the same file holds
	// nearly all the time: the statistics are left for the next Open then.
	if err := errors.Join(write.Exec(`PRAGMA analysis_limit = 1000`).Error, write.Exec(`PRAGMA optimize = 0x10002`).Error); err != nil && !isBusy(err) {
		closeGorm(write)
		return nil, fmt.Errorf("optimize: %w", err)
	}
	params.Set("_query_only", "1")
	params.Set("_txlock", "deferred")
	// Readers fetch pages by id all over the file, which a cache per
	// connection barely helps beyond the B-tree's upper levels; the OS page
	// cache holds the rest once for all of them. A small cache lets the pool
	// be as large as a load test's concurrency, so requests never queue for
	// a connection (database/sql hands a freed one to a random waiter, which
	// stretched the latency tail): 2,027 → 2,382 req/s on q1 at 1M incidents.
	params.Set("_cache_size", "-2000")
	read, err := openGorm("file:"+path+"?"+params.Encode(), opts.ReadConns)
	if err != nil {
		closeGorm(write)
		return nil, err
	}
	s := &Store{write: write, read: read, path: path, opts: opts, Now: time.Now}
	s.AlertServices = store.AlertServices{Read: read, Transact: s.transact, Now: s.now, Translate: translate,
		Window: opts.AlertWindow, Signal: opts.Signal}
	if err := s.finishTreeRebuild(); err != nil {
		s.Close()
		return nil, err
	}
	if !opts.NoGrid {
		if err := s.startGrid(); err != nil {
			s.Close()
			return nil, fmt.Errorf("build grid: %w", err)
		}
		s.stopWatch, s.watchDone = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(s.watchDone)
			s.watchTree(s.stopWatch)
		}()
	}
	return s, nil
}

func registerSQLite() {
	// Before any connection of this process, unless another package
	// opened one first: then the statistics stay on, and cost only time.
	disableMemStatus()
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: registerFuncs})
}

func openGorm(dsn string, conns int) (*gorm.DB, error) {
	db, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: driverName, DSN: dsn}), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		// Statements built from filters (CQL2 filter=, lists of any length)
		// come in endless shapes; keep the most recent, not all of them.
		PrepareStmtMaxSize: 256,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(conns)
	sqlDB.SetMaxIdleConns(conns)
	sqlDB.SetConnMaxIdleTime(0)
	if err := sqlDB.Ping(); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

func closeGorm(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Close checkpoints the WAL into the main file and closes every connection.
func (s *Store) Close() error {
	if s.stopWatch != nil {
		close(s.stopWatch)
		<-s.watchDone
	}
	s.stopGrid()
	errRead := closeGorm(s.read)
	// A truncating checkpoint leaves a self-contained database file behind.
	// It holds the write lock while it waits for other processes' readers,
	// which would stall a server's writes behind a command's exit; with no
	// busy wait it does what it can at once and leaves the rest to the next
	// checkpoint.
	errCkpt := errors.Join(s.write.Exec(`PRAGMA optimize`).Error, s.write.Exec(`PRAGMA busy_timeout = 0`).Error,
		s.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`).Error)
	return errors.Join(errRead, errCkpt, closeGorm(s.write))
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.read.WithContext(ctx).Raw(`SELECT 1`).Scan(&one).Error
}

// InstanceID returns the database's UUID, which migration 4 made when the
// database was created.
func (s *Store) InstanceID(ctx context.Context) (string, error) {
	var id string
	err := store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT value FROM meta WHERE key = 'instance_id'`).Rows()).Scan(&id)
	return id, err
}

// Backup writes a consistent copy of the live database to target, which
// must not exist. VACUUM INTO reads one snapshot, so writers go on
// meanwhile; it runs on a connection of its own because the read pool is
// query-only and the writer must stay free for writes.
func (s *Store) Backup(ctx context.Context, target string) error {
	return backupFile(ctx, s.path, target)
}

// BackupFile is Backup of the database at path without opening a Store:
// no migration, no optimize, no checkpoint at close, nothing that takes
// the write lock a server beside it needs. It refuses a path that holds no
// file, where SQLite would create an empty database and back that up.
func BackupFile(ctx context.Context, path, target string) error {
	path = strings.TrimPrefix(path, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	fi, err := os.Stat(path)
	if err != nil {
		return domain.Errorf(domain.ENOTFOUND, "no database at %s: %v", path, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return domain.Errorf(domain.EINVALID, "%s is not a database file", path)
	}
	return backupFile(ctx, path, target)
}

func backupFile(ctx context.Context, path, target string) error {
	registerDriver.Do(registerSQLite)
	db, err := sql.Open(driverName, "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer db.Close()
	var version int
	// A file that is not a postwatch database fails here, before any copy.
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&version); err != nil {
		return fmt.Errorf("%s is not a postwatch database: %w", path, err)
	}
	if err := createPrivate(target); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, target)
	return err
}

// privateFileMode is the mode of the database files postwatch creates:
// they hold webhook signing secrets as they are, token hashes and the
// incident record, so no other local account may read them (SQLite
// creates its -wal and -shm files with the database file's mode).
const privateFileMode = 0o600

// createPrivate creates path as an empty file only its owner may read or
// write, unless it exists already (whose mode is the operator's choice).
// SQLite takes an empty file for a new database, and VACUUM INTO writes
// into one.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, privateFileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return f.Close()
}

// registerFuncs adds postwatch's SQL functions to a new connection.
func registerFuncs(c *sqlite3.SQLiteConn) error {
	for name, fn := range map[string]any{
		"pw_distance": distanceFunc,
		"pw_casei":    foldFunc(domain.CaseFold),
		"pw_accenti":  foldFunc(domain.StripAccents),
		"pw_fold":     foldFunc(domain.FoldText), // the full-text index's text (foldSQL)
		"pw_locate":   newLocateFunc(),
	} {
		if err := c.RegisterFunc(name, fn, true); err != nil {
			return err
		}
	}
	return nil
}

// foldFunc makes CASEI or ACCENTI an SQL function of text that keeps NULL
// (/req/case-insensitive-comparison/casei-function D). The driver hands a
// NULL argument over as a nil []byte, a blob as a non-nil one.
func foldFunc(fold func(string) string) func(any) any {
	return func(v any) any {
		switch v := v.(type) {
		case string:
			return fold(v)
		case []byte:
			if v == nil {
				return nil
			}
			return fold(string(v))
		}
		return v
	}
}

// newLocateFunc makes pw_locate(lon, lat, wkb) for one connection: the
// geo.Location of the point relative to the WKB geometry (0 exterior,
// 1 interior, 2 boundary). A filter's geometry is one bound argument
// tested against every candidate row, so the function keeps the last few
// geometries it decoded: decoding a polygon of a thousand vertices per row
// would cost more than testing the point. The cache belongs to the
// connection, which database/sql never uses from two goroutines at once.
func newLocateFunc() func(lon, lat float64, g []byte) (int64, error) {
	var cache [4]struct {
		wkb  string
		geom orb.Geometry
	}
	next := 0
	return func(lon, lat float64, g []byte) (int64, error) {
		var geom orb.Geometry
		for _, e := range cache {
			if e.geom != nil && e.wkb == string(g) {
				geom = e.geom
				break
			}
		}
		if geom == nil {
			var err error
			if geom, err = wkb.Unmarshal(g); err != nil {
				return 0, err
			}
			cache[next].wkb, cache[next].geom = string(g), geom
			next = (next + 1) % len(cache)
		}
		return int64(geo.Locate(orb.Point{lon, lat}, geom)), nil
	}
}

// distanceFunc is pw_distance(lon1, lat1, lon2, lat2) in SQL: the geodesic
// distance in meters, computed by orb, so SQL filters and sorts by the same
// distance the API reports.
func distanceFunc(lon1, lat1, lon2, lat2 float64) float64 {
	return geo.Distance([2]float64{lon1, lat1}, [2]float64{lon2, lat2})
}

// transact runs fn in one write transaction. A lock that another process
// (an import, a checkpoint) held past BusyTimeout is EUNAVAILABLE: the
// write did not happen and may be sent again.
func (s *Store) transact(ctx context.Context, fn func(tx *gorm.DB) error) error {
	err := s.write.WithContext(ctx).Transaction(fn)
	if isBusy(err) {
		return domain.Errorf(domain.EUNAVAILABLE, "another process (an import or a backup) holds the database's write lock; nothing was written, retry shortly")
	}
	return err
}

// isBusy reports SQLITE_BUSY or SQLITE_LOCKED, in any of their extended forms.
func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// now returns the store clock's time at the microsecond precision stored.
func (s *Store) now() time.Time {
	return s.Now().UTC().Truncate(time.Microsecond)
}

// translate maps storage errors to domain errors at the store boundary.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.ENOTFOUND, "not found")
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return domain.Errorf(domain.ECONFLICT, "a record with that key already exists")
		case sqlite3.ErrConstraintForeignKey:
			return domain.Errorf(domain.EINVALID, "a referenced record does not exist")
		}
	}
	return err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func microsPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMicro()
	return &v
}

func timePtr(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := fromMicros(*us)
	return &t
}

// exec runs a statement on tx's connection without GORM's statement
// building, which costs more than the statement on hot write paths.
func exec(ctx context.Context, tx *gorm.DB, query string, args ...any) error {
	_, err := tx.Statement.ConnPool.ExecContext(ctx, query, args...)
	return err
}

// queryRows is exec for a statement that returns rows.
func queryRows(ctx context.Context, tx *gorm.DB, query string, args ...any) (*sql.Rows, error) {
	return tx.Statement.ConnPool.QueryContext(ctx, query, args...)
}

// queryRow is exec for a statement that returns one row.
func queryRow(ctx context.Context, tx *gorm.DB, query string, args ...any) store.Row {
	return store.FirstRow(tx.Statement.ConnPool.QueryContext(ctx, query, args...))
}

func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// CopySource is this database as store.Copy reads it: through the read
// pool, in one read transaction.
func (s *Store) CopySource() (store.CopyEnd, error) {
	db, err := s.read.DB()
	return store.CopyEnd{DB: db, Dialect: "sqlite"}, err
}

// CopyDestination is this database as store.Copy writes it: through the
// writer, with the full-text index made from the copied incidents at the
// end, of their folded text as indexText writes it (FTS5's 'rebuild' would
// index the raw columns); the R*Trees and the live count follow the rows
// by trigger.
func (s *Store) CopyDestination() (store.CopyEnd, error) {
	db, err := s.write.DB()
	return store.CopyEnd{DB: db, Dialect: "sqlite", Finish: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO incidents_fts (rowid, title, description) SELECT id, `+
			foldSQL("title")+`, `+foldSQL("description")+` FROM incidents`)
		return err
	}}, err
}
