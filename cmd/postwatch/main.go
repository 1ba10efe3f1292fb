// Command postwatch serves the postwatch API and runs its maintenance
// commands. It is the only place that names concrete implementations and
// wires them together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/postgis"
	"github.com/postwatch/postwatch/store/sqlite"
)

const usage = `postwatch — threats against diplomatic posts, as OGC API – Features.

Usage:
  postwatch serve --addr HOST:PORT --db DSN [--seed] [--durability full|normal]
                  [--rate-limit N] [--request-timeout 30s] [--trusted-proxies CIDR,...]
                  [--debug-addr HOST:PORT] [--db-max-conns N]   (N: PostGIS pool size, default 8)
                  [--tile-cache 64MiB] [--incident-cache 128MiB]   (0: off)
  postwatch token create --db DSN --role analyst|officer|admin --name NAME [--expires RFC3339]
  postwatch import --db DSN --format acled|geojson [--rejects FILE] FILE
                   (exits 1 when any record was rejected; the good ones are kept)
  postwatch backup --db DSN FILE           (a SQLite file, from either engine)
  postwatch migrate --from DSN --to DSN     (into an empty database, either engine)
  postwatch gen -n N [--seed S] [-o FILE]    (synthetic incidents as GeoJSON lines, for load tests)

Every flag of serve, token create, import, backup and migrate can also be set
by an environment variable: --db by POSTWATCH_DB, --addr by POSTWATCH_ADDR,
--rate-limit by POSTWATCH_RATE_LIMIT, --from by POSTWATCH_FROM, and so on.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "postwatch:", err)
		var usageErr usageError
		if errors.As(err, &usageErr) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "token":
		if len(args) < 2 || args[1] != "create" {
			return usageError{"usage: postwatch token create --db DSN --role ROLE --name NAME"}
		}
		return createToken(ctx, args[2:], stdout, stderr)
	case "import":
		return importFile(ctx, args[1:], stdout, stderr)
	case "backup":
		return backup(ctx, args[1:], stdout, stderr)
	case "migrate":
		return migrateDB(ctx, args[1:], stdout, stderr)
	case "gen":
		return generate(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// newFlagSet returns a flag set whose flags default to POSTWATCH_* variables.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// envDefault is the value of POSTWATCH_<NAME>, or def.
func envDefault(name, def string) string {
	if v, ok := os.LookupEnv("POSTWATCH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
		return v
	}
	return def
}

// envBool is the boolean POSTWATCH_<NAME>, read as the flag package reads
// --name=VALUE (1, t, true, TRUE, 0, f, false…); unset or empty is false.
// Any other value is a usage error: POSTWATCH_SEED=yes must not quietly
// mean "do not seed".
func envBool(name string) (bool, error) {
	raw := strings.TrimSpace(envDefault(name, ""))
	if raw == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		env := "POSTWATCH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		return false, usageError{fmt.Sprintf("%s=%q is not a boolean (true or false)", env, raw)}
	}
	return v, nil
}

// parseFlags parses args and reports a usage error, naming the command.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError{"help requested"}
		}
		return usageError{err.Error()}
	}
	return nil
}

// isPostgres reports whether dsn names a PostgreSQL database rather than
// a SQLite file.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// redactDSN is dsn as it may be logged: a URL's password replaced by xxxxx.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && isPostgres(dsn) {
		return u.Redacted()
	}
	return dsn
}

// openStore opens the database named by dsn for a maintenance command,
// which asks no place-and-time queries and so builds no grid.
func openStore(ctx context.Context, dsn string, durability string) (store.Services, error) {
	return openStoreWith(ctx, dsn, sqlite.Options{Durability: sqlite.Durability(durability), NoGrid: true}, 0)
}

// openStoreWith opens dsn: a postgres:// or postgresql:// URL on PostGIS
// (where the durability, alert window and signal of opts apply, and the
// pool holds at most pgConns connections, 0 meaning
// postgis.DefaultMaxConns), anything else as a SQLite file with opts.
func openStoreWith(ctx context.Context, dsn string, opts sqlite.Options, pgConns int) (store.Services, error) {
	if dsn == "" {
		return nil, usageError{"--db (or POSTWATCH_DB) is required"}
	}
	if isPostgres(dsn) {
		return postgis.Open(ctx, dsn, postgis.Options{Durability: postgis.Durability(opts.Durability),
			AlertWindow: opts.AlertWindow, Signal: opts.Signal, MaxConns: pgConns, NoGrid: opts.NoGrid,
			IncidentCacheBytes: opts.IncidentCacheBytes})
	}
	return sqlite.Open(dsn, opts)
}

func createToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token create", stderr)
	db := fs.String("db", envDefault("db", ""), "database: a SQLite file path or a postgres:// URL")
	role := fs.String("role", envDefault("role", ""), "analyst, officer or admin")
	name := fs.String("name", envDefault("name", ""), "who the token is for; recorded as the author of changes")
	expires := fs.String("expires", envDefault("expires", ""), "optional expiry, RFC 3339")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := openStore(ctx, *db, "")
	if err != nil {
		return err
	}
	defer st.Close()
	t := &domain.Token{Name: *name, Role: domain.Role(*role)}
	if *expires != "" {
		exp, err := domain.ParseRFC3339(*expires)
		if err != nil {
			return usageError{"--expires: " + err.Error()}
		}
		t.ExpiresAt = &exp
	}
	secret, err := st.CreateToken(ctx, t)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", stderr)
	db := fs.String("db", envDefault("db", ""), "database: a SQLite file path or a postgres:// URL")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"usage: postwatch backup --db DSN FILE"}
	}
	target := fs.Arg(0)
	if _, err := os.Stat(target); err == nil {
		return fmt.Errorf("%s exists; choose a new file", target)
	}
	if *db == "" {
		return usageError{"--db (or POSTWATCH_DB) is required"}
	}
	if isPostgres(*db) {
		return backupPostGIS(ctx, *db, target, stdout, stderr)
	}
	// Not openStore: a backup only reads, so it must neither create a
	// database at a mistyped path nor take the write lock a server needs.
	if err := sqlite.BackupFile(ctx, *db, target); err != nil {
		os.Remove(target) // a half-written copy must not pass for a backup
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup written to %s\n", target)
	return nil
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
