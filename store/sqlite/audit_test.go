package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// TestAuditMigrationRecordsEarlierRecords: relations and tokens stored
// before their changes were recorded get their creation (and a token its
// revocation) in history when migration 7 runs, with an unknown author.
func TestAuditMigrationRecordsEarlierRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := Open(path, Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"qf", "kh"} {
		if err := s.CreateActor(ctx, &domain.Actor{ID: id, Name: id, Kind: "unknown"}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro()
	// Rows as an older build wrote them, without history.
	for _, q := range []string{
		`INSERT INTO relations (id, subject_id, kind, target_id, valid_from, valid_to, source, created_at) VALUES (70, 'qf', 'directs', 'kh', ?, NULL, 'report', ?)`,
		`INSERT INTO tokens (id, name, role, hash, created_at, expires_at, revoked_at) VALUES (80, 'old', 'analyst', 'h1', ?, NULL, ?)`,
		`DELETE FROM schema_migrations WHERE version = 7`,
	} {
		args := []any{at, at + 1e6}
		if q[0] == 'D' {
			args = nil
		}
		if err := s.write.Exec(q, args...).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s, err = Open(path, Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs, err := s.RelationHistory(ctx, "qf")
	if err != nil || len(rs) != 1 {
		t.Fatalf("relation history %v, %v", rs, err)
	}
	r := rs[0]
	if r.Op != "create" || r.ChangedBy != "unknown" || r.Record.ID != 70 || r.Record.TargetID != "kh" || r.Record.ValidFrom == nil ||
		r.Record.ValidFrom.UnixMicro() != at || !r.ChangedAt.Equal(time.UnixMicro(at+1e6)) {
		t.Errorf("relation version %+v", r)
	}
	ts, err := s.TokenHistory(ctx, 80)
	if err != nil || len(ts) != 2 || ts[0].Op != "create" || ts[1].Op != "revoke" || ts[1].Record.RevokedAt == nil || ts[0].Record.Name != "old" {
		t.Errorf("token history %+v, %v", ts, err)
	}
}
