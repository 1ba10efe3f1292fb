package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// TestHistoryIsAppendOnly: the history table refuses every statement that
// would change or remove a recorded version, however it is phrased, REPLACE
// included (its implicit delete fires the DELETE trigger because the store
// turns recursive_triggers on). No API route writes history; this guards
// against code that would.
func TestHistoryIsAppendOnly(t *testing.T) {
	for _, stmt := range []string{
		`UPDATE history SET changed_by = 'mallory'`,
		`UPDATE history SET snapshot = '{}' WHERE version = 1`,
		`UPDATE OR REPLACE history SET version = 2 WHERE version = 1`,
		`INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot)
			SELECT collection, record_id, version, op, changed_at, 'mallory', '{}' FROM history WHERE true
			ON CONFLICT DO UPDATE SET changed_by = excluded.changed_by`,
		`DELETE FROM history`,
		`DELETE FROM history WHERE version = 2`,
		`INSERT OR REPLACE INTO history (id, collection, record_id, version, op, changed_at, changed_by, snapshot)
			SELECT id, collection, record_id, version, op, changed_at, 'mallory', '{}' FROM history`,
		`REPLACE INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot)
			SELECT collection, record_id, version, op, changed_at, 'mallory', '{}' FROM history`,
	} {
		t.Run(stmt, func(t *testing.T) {
			s := openTestStore(t)
			ctx := context.Background()
			inc := domain.Incident{Location: orb.Point{44.36, 33.31}, Type: "indirect_fire", Title: "Rockets near the consulate",
				OccurredAt: time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC), Severity: 3}
			if err := s.CreateIncident(ctx, &inc); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteIncident(ctx, inc.ID, 0); err != nil {
				t.Fatal(err)
			}
			before := historyRows(t, s)
			err := s.write.Exec(stmt).Error
			if err == nil {
				t.Errorf("history accepted the statement")
			}
			if after := historyRows(t, s); after != before {
				t.Fatalf("history changed:\n%s\nbecame\n%s", before, after)
			}
		})
	}
}

// historyRows is the whole history table as text.
func historyRows(t *testing.T, s *Store) string {
	t.Helper()
	var rows []struct {
		ID                                            int64
		Version                                       int
		Collection, RecordID, Op, ChangedBy, Snapshot string
	}
	err := s.write.Raw(`SELECT id, version, collection, record_id, op, changed_by, snapshot FROM history ORDER BY id`).Scan(&rows).Error
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d history rows, want 2", len(rows))
	}
	out := ""
	for _, r := range rows {
		out += fmt.Sprintf("%d %s/%s v%d %s by %s: %s\n", r.ID, r.Collection, r.RecordID, r.Version, r.Op, r.ChangedBy, r.Snapshot)
	}
	return out
}
