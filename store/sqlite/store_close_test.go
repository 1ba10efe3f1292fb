package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// TestCloseLeavesNoWAL: Close checkpoints the WAL into the database and
// truncates it, so the file is self-contained even while another process
// (here another store) keeps it open, when SQLite's own checkpoint at the
// last close does not happen.
func TestCloseLeavesNoWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "close.db")
	openAt(t, path, Options{NoGrid: true}) // the other process
	s, err := Open(path, Options{Durability: DurabilityNormal})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		inc := domain.Incident{Location: orb.Point{44, 33}, Type: "protest", Title: "t", OccurredAt: time.Date(2018, 9, 1, i, 0, 0, 0, time.UTC)}
		if err := s.CreateIncident(context.Background(), &inc); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the writes left no WAL to checkpoint (%v); the test proves nothing", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("WAL holds %d bytes after Close", fi.Size())
	}
}

// TestQueryRowReportsACancelledContext: a query the statement cache cannot
// prepare returns an error from Scan instead of panicking.
func TestQueryRowReportsACancelledContext(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "row.db"), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var n int
	for _, q := range []string{`SELECT count(*) FROM incidents WHERE id > ?`, `SELECT count(*) FROM actors WHERE id = ?`} {
		if err := queryRow(ctx, s.write, q, 1).Scan(&n); err == nil {
			t.Errorf("%s under a cancelled context: no error", q)
		}
	}
	if err := queryRow(context.Background(), s.write, `SELECT 1 WHERE 0`).Scan(&n); err == nil {
		t.Errorf("a query without rows: no error, want sql.ErrNoRows")
	}
}
