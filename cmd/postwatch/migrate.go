package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/postgis"
	"github.com/postwatch/postwatch/store/sqlite"
)

// copyStore is a store that store.Copy can read from and write into.
type copyStore interface {
	CopySource() (store.CopyEnd, error)
	CopyDestination() (store.CopyEnd, error)
	Close() error
}

// openCopyStore opens dsn for migrate and backup: schema created or
// upgraded as serve would, no grid, the PostGIS pool kept small. A source
// SQLite file must exist: opening a mistyped path would make an empty
// database and copy nothing.
func openCopyStore(ctx context.Context, dsn, flagName string, source bool) (copyStore, error) {
	if dsn == "" {
		return nil, usageError{flagName + " is required"}
	}
	if isPostgres(dsn) {
		return postgis.Open(ctx, dsn, postgis.Options{MaxConns: 2, NoGrid: true})
	}
	if source {
		path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no database at %s: %w", path, errors.Unwrap(err))
		}
	}
	return sqlite.Open(dsn, sqlite.Options{NoGrid: true})
}

func migrateDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	from := fs.String("from", envDefault("from", ""), "the database to copy: a SQLite file path or a postgres:// URL")
	to := fs.String("to", envDefault("to", ""), "the empty database to copy into: a SQLite file path or a postgres:// URL")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"usage: postwatch migrate --from DSN --to DSN"}
	}
	if *from == "" || *to == "" {
		return usageError{"--from and --to are both required"}
	}
	if *from == *to {
		return usageError{"--from and --to name the same database"}
	}
	return copyDatabase(ctx, *from, *to, "--to", stdout, stderr)
}

// copyDatabase copies the database at from into the one at to (made when
// it does not exist) and prints a summary on stdout.
func copyDatabase(ctx context.Context, from, to, toFlag string, stdout, stderr io.Writer) error {
	src, err := openCopyStore(ctx, from, "--from", true)
	if err != nil {
		return fmt.Errorf("open %s: %w", redactDSN(from), err)
	}
	defer src.Close()
	dst, err := openCopyStore(ctx, to, toFlag, false)
	if err != nil {
		return fmt.Errorf("open %s: %w", redactDSN(to), err)
	}
	defer dst.Close()
	srcEnd, err := src.CopySource()
	if err != nil {
		return err
	}
	dstEnd, err := dst.CopyDestination()
	if err != nil {
		return err
	}
	start := time.Now()
	stats, err := store.Copy(ctx, srcEnd, dstEnd, store.CopyOptions{Progress: stderr})
	if err != nil {
		return err
	}
	if err := analyzeBulkLoad(ctx, dst); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %s into %s in %v:\n", redactDSN(from), redactDSN(to), time.Since(start).Round(time.Millisecond))
	for _, t := range stats.Tables {
		fmt.Fprintf(stdout, "  %-20s %d\n", t, stats.Rows[t])
	}
	return nil
}

// analyzer is a store whose planner needs fresh statistics after a bulk
// load (postgis.Store.Analyze).
type analyzer interface {
	Analyze(ctx context.Context) error
}

// analyzeBulkLoad refreshes st's planner statistics when it keeps any, so
// that the first queries after migrate or import are planned on the rows
// loaded rather than on an empty table.
func analyzeBulkLoad(ctx context.Context, st any) error {
	if a, ok := st.(analyzer); ok {
		return a.Analyze(ctx)
	}
	return nil
}

// backupPostGIS writes the PostGIS database at dsn into the new SQLite
// file target, from one REPEATABLE READ snapshot: migrate into a file
// that did not exist, removed again when anything fails.
func backupPostGIS(ctx context.Context, dsn, target string, stdout, stderr io.Writer) (err error) {
	defer func() {
		if err != nil {
			// A half-written copy must not pass for a backup.
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(target + suffix)
			}
		}
	}()
	if err := copyDatabase(ctx, dsn, target, "FILE", io.Discard, stderr); err != nil {
		if errors.Is(err, store.ErrDestinationNotEmpty) {
			return fmt.Errorf("%s exists; choose a new file", target)
		}
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup written to %s\n", target)
	return nil
}
