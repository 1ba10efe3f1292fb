package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

func importTestIncident(ext, title string) *domain.Incident {
	inc := &domain.Incident{Location: orb.Point{47.66, 30.55}, Type: "indirect_fire", Title: title,
		Description: "rockets near the airport", OccurredAt: time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC), Severity: 3,
		Actors: []domain.IncidentActor{{ActorID: "kataib-hezbollah", Role: "suspected"}}}
	if ext != "" {
		inc.ExternalID = &ext
	}
	return inc
}

// checkImportedStore checks the indexes the import keeps against the
// table: live count, R*Tree, incident_actors, full-text index, and one
// history version per version of every incident.
func checkImportedStore(t *testing.T, s *Store, wantLive int64) {
	t.Helper()
	counts := map[string]string{
		"live incidents":       `SELECT count(*) FROM incidents WHERE deleted_at IS NULL`,
		"R*Tree entries":       `SELECT count(*) FROM incidents_rtree`,
		"live_counts":          `SELECT n FROM live_counts WHERE collection = 'incidents'`,
		"R*Tree mismatches":    `SELECT count(*) - ? FROM incidents i JOIN incidents_rtree r ON r.id = i.id WHERE r.min_lon <= i.lon AND i.lon <= r.max_lon AND r.min_lat <= i.lat AND i.lat <= r.max_lat AND i.deleted_at IS NULL`,
		"actor rows missing":   `SELECT count(*) FROM incidents i, json_each(i.extra, '$.actors') a WHERE NOT EXISTS (SELECT 1 FROM incident_actors ia WHERE ia.incident_id = i.id AND ia.actor_id = a.value->>'actor_id' AND ia.role = a.value->>'role')`,
		"actor rows extra":     `SELECT (SELECT count(*) FROM incident_actors) - (SELECT coalesce(sum(json_array_length(extra, '$.actors')), 0) FROM incidents)`,
		"versions unrecorded":  `SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM history h WHERE h.collection = 'incidents' AND h.record_id = CAST(i.id AS TEXT) AND h.version = i.version)`,
		"history gaps":         `SELECT count(*) FROM incidents i WHERE (SELECT count(*) FROM history h WHERE h.collection = 'incidents' AND h.record_id = CAST(i.id AS TEXT)) != i.version`,
		"text rows unindexed":  `SELECT count(*) FROM incidents i WHERE i.title != '' AND NOT EXISTS (SELECT 1 FROM incidents_fts f WHERE f.rowid = i.id)`,
		"fts rows":             `SELECT (SELECT count(*) FROM incidents_fts) - (SELECT count(*) FROM incidents)`,
		"fts doc count excess": `SELECT (SELECT count(*) FROM incidents_fts_docsize) - (SELECT count(*) FROM incidents)`,
	}
	for name, q := range counts {
		var n int64
		args := []any{}
		if strings.Contains(q, "?") {
			args = append(args, wantLive)
		}
		if err := s.write.Raw(q, args...).Row().Scan(&n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := wantLive
		if !strings.HasPrefix(name, "live") && !strings.HasPrefix(name, "R*Tree entries") {
			want = 0
		}
		if n != want {
			t.Errorf("%s: %d, want %d", name, n, want)
		}
	}
	if err := s.write.Exec(`INSERT INTO incidents_fts (incidents_fts, rank) VALUES ('integrity-check', 1)`).Error; err != nil {
		t.Errorf("full-text index: %v", err)
	}
	var check string
	if err := s.write.Raw(`PRAGMA integrity_check`).Row().Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %s %v", check, err)
	}
	// Each incident's newest snapshot is the incident as read back.
	var snaps []struct {
		ID       int64
		Snapshot string
	}
	err := s.write.Raw(`SELECT i.id, h.snapshot FROM incidents i JOIN history h
		ON h.collection = 'incidents' AND h.record_id = CAST(i.id AS TEXT) AND h.version = i.version
		WHERE i.deleted_at IS NULL`).Scan(&snaps).Error
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range snaps {
		inc, err := s.findIncident(context.Background(), s.write, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(inc)
		if string(b) != h.Snapshot {
			t.Errorf("incident %d: history snapshot\n%s\nis not the stored incident\n%s", h.ID, h.Snapshot, b)
		}
	}
}

// TestImportRejectedUpdateKeepsText: an update rejected after its checks
// began (a facility that does not exist) leaves the incident and its
// full-text entry as they were.
func TestImportRejectedUpdateKeepsText(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if _, err := s.ImportIncidents(ctx, []*domain.Incident{importTestIncident("a", "Rockets near the airport")}, nil); err != nil {
		t.Fatal(err)
	}
	next := importTestIncident("a", "Retitled")
	missing := int64(99)
	next.FacilityID = &missing
	results, err := s.ImportIncidents(ctx, []*domain.Incident{next}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Outcome != domain.ImportRejected {
		t.Errorf("update naming a missing facility: %s, want rejected", results[0].Outcome)
	}
	checkImportedStore(t, s, 1)
	var n int64
	s.write.Raw(`SELECT count(*) FROM incidents_fts WHERE incidents_fts MATCH 'airport'`).Row().Scan(&n)
	if n != 1 {
		t.Errorf("q=airport finds %d incidents after the rejected update, want 1", n)
	}
}

// TestImportFailureRollsBackTheBatch: a write failing after the checks
// passed leaves nothing of the batch: no incident, actor or history row.
func TestImportFailureRollsBackTheBatch(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if err := s.write.Exec(`CREATE TEMP TRIGGER fail_import BEFORE INSERT ON history WHEN new.snapshot LIKE '%boom%'
		BEGIN SELECT RAISE(ABORT, 'boom'); END`).Error; err != nil {
		t.Fatal(err)
	}
	batch := []*domain.Incident{importTestIncident("x", "fine"), importTestIncident("y", "boom"), importTestIncident("z", "fine too")}
	batch[1].Actors = []domain.IncidentActor{{ActorID: "someone-new", Role: "perpetrator"}}
	if _, err := s.ImportIncidents(ctx, batch, nil); err == nil {
		t.Fatal("the import succeeded although a history row could not be written")
	}
	for _, table := range []string{"incidents", "actors", "history", "incident_actors", "incidents_rtree", "incidents_fts"} {
		var n int64
		if err := s.write.Raw(`SELECT count(*) FROM ` + table).Row().Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s holds %d rows after the failed batch, want 0", table, n)
		}
	}
	checkImportedStore(t, s, 0)
}
