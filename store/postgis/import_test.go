package postgis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/storetest"
)

// TestImportRejectsAnExternalIDTakenMeanwhile: another writer inserts an
// external_id after the import read the batch's ids and commits while the
// import waits on it. The import rejects that record alone, and the rest
// of the batch is stored, as when the id was taken beforehand.
func TestImportRejectsAnExternalIDTakenMeanwhile(t *testing.T) {
	admin(t)
	db := storetest.Open(t)
	ctx := context.Background()
	raw := sqlDB(t, db.DSN)
	other, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	var otherID int64
	err = other.QueryRowContext(ctx, `INSERT INTO incidents (lon, lat, type, title, occurred_at, time_precision,
		location_precision, severity, status, external_id, created_at, updated_at, version)
		VALUES (44, 33, 'protest', 'Taken meanwhile', now(), 'exact', 'exact', 2, 'confirmed', 'race', now(), now(), 1)
		RETURNING id`).Scan(&otherID)
	if err != nil {
		t.Fatal(err)
	}

	var batch []*domain.Incident
	for _, ext := range []string{"first", "race", "last"} {
		inc := incident("Imported " + ext)
		inc.ExternalID = &ext
		batch = append(batch, inc)
	}
	type answer struct {
		results []domain.ImportResult
		err     error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := db.ImportIncidents(ctx, batch, nil)
		done <- answer{r, err}
	}()
	// The import's INSERT waits for the other transaction's row.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		err := raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the import never waited for the other writer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	r := a.results
	if r[0].Outcome != domain.ImportCreated || r[2].Outcome != domain.ImportCreated {
		t.Errorf("records first and last: %+v, %+v; want created", r[0], r[2])
	}
	if r[1].Outcome != domain.ImportRejected || domain.ErrorCodeOf(r[1].Err) != domain.ECONFLICT ||
		!strings.Contains(r[1].Err.Error(), "belongs to incident") {
		t.Errorf("record race: %+v; want rejected, its external_id taken", r[1])
	}
	var incidents, versions int
	if err := raw.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM history WHERE collection = 'incidents')`).Scan(&incidents, &versions); err != nil {
		t.Fatal(err)
	}
	if incidents != 3 || versions != 2 {
		t.Errorf("%d incidents and %d incident versions, want 3 (two imported, the other writer's) and 2", incidents, versions)
	}
}
