package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// FuzzFullTextQuery: any q that has words runs as an FTS5 query without
// error (no phrase query, no syntax error, whatever the script), and the
// words of a stored title always find it.
func FuzzFullTextQuery(f *testing.F) {
	for _, s := range []string{"مُحَمَّد", "Café", "ﬁred", "al-Asad OR NOT", "می‌روم", "a\"b", "x*", "NEAR(a b)", "^a", "a:b"} {
		f.Add(s)
	}
	s, err := Open(filepath.Join(f.TempDir(), "fts.db"), Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, q string) {
		if len(domain.SearchWords(q)) == 0 {
			return // the API refuses it before the store
		}
		if _, err := s.FindIncidents(ctx, domain.IncidentFilter{Text: q, Page: domain.Page{Limit: 1}}); err != nil {
			t.Fatalf("q=%q: %v", q, err)
		}
	})
}

// TestFoldMigrationRebuildsTheIndex: a database whose index holds raw text
// (before migration 6) is rebuilt with folded text on open.
func TestFoldMigrationRebuildsTheIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fold.db")
	s, err := Open(path, Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inc := domain.Incident{Location: orb.Point{44, 33}, Type: "protest", Title: "Convoy of مُحَمَّد", OccurredAt: time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.CreateIncident(ctx, &inc); err != nil {
		t.Fatal(err)
	}
	// Back to the index as an older build wrote it.
	for _, q := range []string{
		`INSERT INTO incidents_fts (incidents_fts) VALUES ('delete-all')`,
		`INSERT INTO incidents_fts (rowid, title, description) SELECT id, title, description FROM incidents`,
		`DELETE FROM schema_migrations WHERE version = 6`,
	} {
		if err := s.write.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(path, Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page, err := s.FindIncidents(ctx, domain.IncidentFilter{Text: "محمد convoy", Page: domain.Page{Limit: 10}})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("after the migration: %v, %v", page, err)
	}
}
