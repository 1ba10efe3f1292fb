package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// The store package's SQL must run unchanged on both engines: every test
// here runs on SQLite and on PostgreSQL. POSTWATCH_TEST_PG names the
// server (default the local one); without a reachable server the
// PostgreSQL half is skipped, except under CI, where it must run.

// facilitiesDDL is the part of each engine's schema the alert writer reads.
const facilitiesDDL = `CREATE TABLE facilities (id BIGINT PRIMARY KEY, lon DOUBLE PRECISION NOT NULL,
	lat DOUBLE PRECISION NOT NULL, alert_radius_m DOUBLE PRECISION NOT NULL, deleted_at BIGINT)`

type engine struct {
	name string
	open func(t *testing.T) *gorm.DB
}

var engines = []engine{
	{"sqlite", func(t *testing.T) *gorm.DB {
		db, err := gorm.Open(sqlite.Open("file:"+filepath.Join(t.TempDir(), "s.db")+"?_foreign_keys=on&_busy_timeout=5000&_txlock=immediate"),
			&gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		sqlDB, _ := db.DB()
		sqlDB.SetMaxOpenConns(1) // one writer, as store/sqlite has
		t.Cleanup(func() { sqlDB.Close() })
		return schema(t, db, "sqlite")
	}},
	{"postgres", func(t *testing.T) *gorm.DB {
		server := os.Getenv("POSTWATCH_TEST_PG")
		if server == "" {
			server = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		}
		admin, err := gorm.Open(postgres.Open(server), &gorm.Config{Logger: logger.Discard})
		if err == nil {
			err = admin.Exec(`SELECT 1`).Error
		}
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("PostgreSQL at %s: %v", server, err)
			}
			t.Skipf("no PostgreSQL at %s: %v", server, err)
		}
		var b [6]byte
		rand.Read(b[:])
		name := "pw_store_test_" + hex.EncodeToString(b[:])
		if err := admin.Exec(`CREATE DATABASE ` + name).Error; err != nil {
			t.Fatal(err)
		}
		db, err := gorm.Open(postgres.Open(replaceDB(server, name)), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sqlDB, _ := db.DB()
			sqlDB.Close()
			admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
			adminDB, _ := admin.DB()
			adminDB.Close()
		})
		return schema(t, db, "postgres")
	}},
}

// replaceDB points a postgres:// URL at another database.
func replaceDB(server, name string) string {
	for i := len("postgres://"); i < len(server); i++ {
		if server[i] == '/' {
			rest := server[i+1:]
			q := ""
			for j := range rest {
				if rest[j] == '?' {
					q = rest[j:]
					break
				}
			}
			return server[:i+1] + name + q
		}
	}
	return server + "/" + name
}

func schema(t *testing.T, db *gorm.DB, dialect string) *gorm.DB {
	t.Helper()
	for _, stmt := range append([]string{facilitiesDDL}, store.AlertSchema(dialect)...) {
		if err := db.Exec(stmt).Error; err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	for _, f := range []struct {
		id       int64
		lon, lat float64
	}{{1, 47.6625, 30.5489}, {2, 44.3955, 33.2986}} {
		if err := db.Exec(`INSERT INTO facilities (id, lon, lat, alert_radius_m) VALUES (?, ?, ?, 5000)`, f.id, f.lon, f.lat).Error; err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func forEachEngine(t *testing.T, test func(t *testing.T, db *gorm.DB)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { test(t, e.open(t)) })
	}
}

// writeAlert stores the alerts of one incident write in one transaction.
func writeAlert(t *testing.T, db *gorm.DB, id int64, version, severity int, lon, lat float64, now time.Time) int {
	t.Helper()
	var n int
	err := db.Transaction(func(tx *gorm.DB) error {
		w := store.NewAlertWriter(tx, now, domain.DefaultAlertWindow)
		inc := &domain.Incident{ID: id, Version: version, Location: [2]float64{lon, lat}, Type: "drone", Title: "Drone",
			OccurredAt: now.Add(-time.Minute), Severity: severity, Status: "reported"}
		if err := w.Write(context.Background(), nil, inc); err != nil {
			return err
		}
		n = w.Stored()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAlertsAndOutbox: alerts, their filters and paging, subscriptions and
// the outbox's claim, lease and settlement, on both engines.
func TestAlertsAndOutbox(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		all := &domain.Webhook{URL: "https://a.example/"}
		severe := &domain.Webhook{URL: "https://b.example/", Facilities: []int64{2}, SeverityMin: 4}
		for _, w := range []*domain.Webhook{all, severe} {
			secret, err := store.CreateWebhook(ctx, db, w, now)
			if err != nil || len(secret) != len("whsec_")+44 {
				t.Fatalf("create webhook: %q %v", secret, err)
			}
		}
		if n := writeAlert(t, db, 10, 1, 3, 47.665, 30.55, now); n != 1 {
			t.Fatalf("%d alerts, want 1", n)
		}
		if n := writeAlert(t, db, 11, 1, 5, 44.396, 33.299, now); n != 1 {
			t.Fatalf("%d alerts, want 1", n)
		}
		if n := writeAlert(t, db, 12, 1, 5, 10, 10, now); n != 0 {
			t.Fatalf("%d alerts far away, want 0", n)
		}
		page, err := store.FindAlerts(ctx, db, domain.AlertFilter{Limit: 1})
		if err != nil || len(page.Items) != 1 || !page.More || page.Items[0].IncidentID != 10 || page.Items[0].Incident.Title != "Drone" {
			t.Fatalf("first page %+v (%v)", page, err)
		}
		page, err = store.FindAlerts(ctx, db, domain.AlertFilter{AfterSeq: page.Items[0].Seq, Facilities: []int64{1, 2}, SeverityMin: 4, Limit: 10})
		if err != nil || len(page.Items) != 1 || page.More || page.Items[0].IncidentID != 11 || page.Items[0].ID != domain.AlertID(page.Items[0].Seq) {
			t.Fatalf("second page %+v (%v)", page, err)
		}
		if last, err := store.LastAlertSeq(ctx, db); err != nil || last != page.Items[0].Seq {
			t.Fatalf("last seq %d (%v), want %d", last, err, page.Items[0].Seq)
		}

		due, err := store.DueWebhooks(ctx, db, now)
		if err != nil || len(due) != 2 {
			t.Fatalf("due %v (%v), want both subscriptions", due, err)
		}
		var items []domain.OutboxItem
		claim := func(id int64, owner string, at time.Time) []domain.OutboxItem {
			t.Helper()
			err := db.Transaction(func(tx *gorm.DB) (err error) {
				items, err = store.ClaimDeliveries(ctx, tx, id, owner, at, time.Minute, 10)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return items
		}
		got := claim(all.ID, "w1", now)
		if len(got) != 2 || got[0].Attempt != 1 || got[0].Secret == "" || got[0].MessageID == got[1].MessageID {
			t.Fatalf("claimed %+v, want both alerts with distinct message ids", got)
		}
		if again := claim(all.ID, "w2", now); len(again) != 0 {
			t.Fatalf("leased items claimed again: %d", len(again))
		}
		status, ok := 503, 204
		retry := now.Add(5 * time.Second)
		rs := []domain.AttemptResult{
			{ItemID: got[0].ID, Attempt: got[0].Attempt, At: now, Status: &status, Error: "HTTP 503", Next: &retry},
			{ItemID: got[1].ID, Attempt: got[1].Attempt, At: now, Status: &ok, Delivered: true},
		}
		if err := db.Transaction(func(tx *gorm.DB) error { return store.RecordAttempts(ctx, tx, "w1", rs) }); err != nil {
			t.Fatal(err)
		}
		if early := claim(all.ID, "w2", now.Add(time.Second)); len(early) != 0 {
			t.Fatalf("claimed %d before the retry time", len(early))
		}
		retried := claim(all.ID, "w2", retry)
		if len(retried) != 1 || retried[0].MessageID != got[0].MessageID || retried[0].Attempt != 2 {
			t.Fatalf("retry %+v, want the failed item again as attempt 2 with its message id", retried)
		}
		// A lease that ran out hands the item to another worker.
		if taken := claim(all.ID, "w3", retry.Add(2*time.Minute)); len(taken) != 1 {
			t.Fatalf("expired lease: %d items, want 1", len(taken))
		}
		ds, err := store.FindDeliveries(ctx, db, all.ID, 10)
		if err != nil || len(ds) != 2 || ds[0].NextAttemptAt != nil || ds[1].Status == nil || *ds[1].Status != 503 {
			t.Fatalf("deliveries %+v (%v)", ds, err)
		}
		// 410 disables the subscription and drops what it was owed.
		gone := claim(severe.ID, "w1", now)
		if len(gone) != 1 {
			t.Fatalf("severe subscription: %d items, want 1", len(gone))
		}
		s410 := 410
		r := domain.AttemptResult{ItemID: gone[0].ID, Attempt: 1, At: now, Status: &s410, Gone: true}
		if err := db.Transaction(func(tx *gorm.DB) error { return store.RecordAttempts(ctx, tx, "w1", []domain.AttemptResult{r}) }); err != nil {
			t.Fatal(err)
		}
		w, err := store.FindWebhookByID(ctx, db, severe.ID)
		if err != nil || w.Active || w.DisabledAt == nil {
			t.Fatalf("after 410: %+v (%v)", w, err)
		}
		if err := store.DeleteWebhook(ctx, db, all.ID, now); err != nil {
			t.Fatal(err)
		}
		if ws, err := store.FindWebhooks(ctx, db); err != nil || len(ws) != 1 {
			t.Fatalf("webhooks after delete: %+v (%v)", ws, err)
		}
		if err := store.PurgeAlerts(ctx, db, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if ok, err := store.AlertExists(ctx, db, page.Items[0].Seq); err != nil || ok {
			t.Fatalf("alert kept after purge: %v (%v)", ok, err)
		}
	})
}

// TestAlertSeqsCommitInOrder: a transaction that stores alerts while
// another one holds uncommitted alerts waits for it, so the seqs a reader
// sees never leave a gap to be filled later (on SQLite the one writer
// guarantees it; on PostgreSQL the advisory lock does).
func TestAlertSeqsCommitInOrder(t *testing.T) {
	for _, e := range engines {
		if e.name != "postgres" {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			db := e.open(t)
			now := time.Now().UTC()
			first := db.Begin()
			w := store.NewAlertWriter(first, now, domain.DefaultAlertWindow)
			inc := &domain.Incident{ID: 1, Version: 1, Location: [2]float64{47.665, 30.55}, Type: "drone", Title: "first",
				OccurredAt: now, Severity: 3, Status: "reported"}
			if err := w.Write(context.Background(), nil, inc); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				tx := db.Begin()
				w := store.NewAlertWriter(tx, now, domain.DefaultAlertWindow)
				inc := &domain.Incident{ID: 2, Version: 1, Location: [2]float64{47.665, 30.55}, Type: "drone", Title: "second",
					OccurredAt: now, Severity: 3, Status: "reported"}
				if err := w.Write(context.Background(), nil, inc); err != nil {
					tx.Rollback()
					done <- err
					return
				}
				done <- tx.Commit().Error
			}()
			select {
			case err := <-done:
				t.Fatalf("the second transaction stored its alert before the first committed (%v)", err)
			case <-time.After(300 * time.Millisecond):
			}
			if err := first.Commit().Error; err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			page, err := store.FindAlerts(context.Background(), db, domain.AlertFilter{Limit: 10})
			if err != nil || len(page.Items) != 2 || page.Items[0].Incident.Title != "first" || page.Items[1].Seq <= page.Items[0].Seq {
				t.Fatalf("alerts %+v (%v): the first committed must hold the lower seq", page.Items, err)
			}
		})
	}
}
