// Package store holds the persistence both database engines share: plain
// SQL through GORM over the alerts, webhooks and outbox tables, which
// store/sqlite (and the PostGIS engine) call inside their own write
// transactions. Times are integer microseconds since the Unix epoch (UTC),
// as in the rest of the schema; booleans are integers 0/1, so the same
// statements run on SQLite and PostgreSQL. Where the dialects must differ
// (locking, generated keys) the code branches on the dialect's name.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
)

// AlertSchema is the DDL of the alert, webhook and outbox tables for one
// dialect ("sqlite" or "postgres"), for each engine's migration list.
//
// alerts.seq is the storage order (domain.AlertID encodes it). On SQLite
// one writer at a time makes seqs commit in order. On PostgreSQL two
// transactions could commit their sequence values out of order, so every
// transaction that stores alerts first takes lockAlertOrder's advisory lock
// (held until it commits) and draws its seqs only then: seqs commit in
// order on both engines, and a reader that has seen seq N will never later
// find a committed seq below N. That is what keeps Last-Event-ID replay
// gap-free across replicas.
func AlertSchema(dialect string) []string {
	id := "INTEGER PRIMARY KEY"
	if dialect == "postgres" {
		id = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	}
	return []string{
		`CREATE TABLE alerts (
			seq ` + id + `,
			facility_id BIGINT NOT NULL,
			incident_id BIGINT NOT NULL,
			incident_version INTEGER NOT NULL,
			severity INTEGER NOT NULL,
			distance_m DOUBLE PRECISION NOT NULL,
			created_at BIGINT NOT NULL,
			incident TEXT NOT NULL,
			UNIQUE (facility_id, incident_id, incident_version)
		)`,
		`CREATE INDEX alerts_facility ON alerts(facility_id, seq)`,
		`CREATE INDEX alerts_created ON alerts(created_at)`,
		`CREATE TABLE webhooks (
			id ` + id + `,
			url TEXT NOT NULL,
			facilities TEXT NOT NULL DEFAULT '[]',
			severity_min INTEGER NOT NULL DEFAULT 0,
			secret TEXT NOT NULL,
			active INTEGER NOT NULL DEFAULT 1,
			created_at BIGINT NOT NULL,
			created_by TEXT NOT NULL,
			disabled_at BIGINT,
			deleted_at BIGINT
		)`,
		// One row per alert still owed to a subscription; it leaves the
		// table when delivered or given up, so the table stays small.
		`CREATE TABLE webhook_outbox (
			id ` + id + `,
			webhook_id BIGINT NOT NULL REFERENCES webhooks(id),
			alert_seq BIGINT NOT NULL REFERENCES alerts(seq),
			attempt INTEGER NOT NULL DEFAULT 0,
			next_attempt_at BIGINT NOT NULL,
			lease_owner TEXT,
			lease_until BIGINT,
			UNIQUE (webhook_id, alert_seq)
		)`,
		`CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at, webhook_id)`,
		`CREATE TABLE webhook_deliveries (
			id ` + id + `,
			webhook_id BIGINT NOT NULL REFERENCES webhooks(id),
			alert_seq BIGINT NOT NULL,
			attempt INTEGER NOT NULL,
			status INTEGER,
			error TEXT NOT NULL DEFAULT '',
			at BIGINT NOT NULL,
			next_attempt_at BIGINT
		)`,
		`CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id)`,
		`CREATE INDEX webhook_deliveries_at ON webhook_deliveries(at)`,
	}
}

// alertOrderLock is the PostgreSQL advisory lock key that orders alert
// commits (the bytes of "pwalerts").
const alertOrderLock = 0x7077616c65727473

func isPostgres(db *gorm.DB) bool { return db.Dialector.Name() == "postgres" }

// lockAlertOrder makes seqs commit in order on PostgreSQL (see
// AlertSchema); SQLite's single writer already does.
func lockAlertOrder(ctx context.Context, tx *gorm.DB) error {
	if !isPostgres(tx) {
		return nil
	}
	return tx.WithContext(ctx).Exec(`SELECT pg_advisory_xact_lock(?)`, alertOrderLock).Error
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// AlertWriter raises the alerts of the incident writes of one transaction.
// It reads the live facilities and the active subscriptions once, on the
// first write whose incident lies in the alert window, so an import of
// past events costs nothing and a batch of recent ones one read each.
type AlertWriter struct {
	tx     *gorm.DB
	now    time.Time
	window time.Duration

	loaded     bool
	facilities []domain.Facility
	webhooks   []domain.Webhook
	locked     bool
	stored     int
}

// NewAlertWriter returns a writer for the transaction tx, writing at now
// with the given alert window.
func NewAlertWriter(tx *gorm.DB, now time.Time, window time.Duration) *AlertWriter {
	return &AlertWriter{tx: tx, now: now, window: window}
}

// Stored is how many alerts the writer has stored.
func (w *AlertWriter) Stored() int { return w.stored }

// Write stores the alerts that writing next over prev (nil on create)
// raises, by domain.AlertsFor, and queues each for the active
// subscriptions that want it.
func (w *AlertWriter) Write(ctx context.Context, prev, next *domain.Incident) error {
	if !domain.InAlertWindow(next, w.now, w.window) {
		return nil
	}
	if !w.loaded {
		if err := w.load(ctx); err != nil {
			return err
		}
	}
	hits := domain.AlertsFor(prev, next, w.facilities, w.now, w.window)
	if len(hits) == 0 {
		return nil
	}
	if !w.locked {
		if err := lockAlertOrder(ctx, w.tx); err != nil {
			return err
		}
		w.locked = true
	}
	snap, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode alert incident: %w", err)
	}
	db := w.tx.WithContext(ctx)
	for _, h := range hits {
		a := domain.Alert{FacilityID: h.FacilityID, IncidentID: next.ID, IncidentVersion: next.Version,
			DistanceM: h.DistanceM, CreatedAt: w.now, Incident: *next}
		err := db.Raw(`INSERT INTO alerts (facility_id, incident_id, incident_version, severity, distance_m, created_at, incident)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq`, a.FacilityID, a.IncidentID, a.IncidentVersion,
			next.Severity, a.DistanceM, micros(w.now), string(snap)).Row().Scan(&a.Seq)
		if err != nil {
			return fmt.Errorf("store alert: %w", err)
		}
		w.stored++
		for _, hook := range w.webhooks {
			if !hook.Wants(&a) {
				continue
			}
			if err := db.Exec(`INSERT INTO webhook_outbox (webhook_id, alert_seq, next_attempt_at) VALUES (?, ?, ?)`,
				hook.ID, a.Seq, micros(w.now)).Error; err != nil {
				return fmt.Errorf("queue alert: %w", err)
			}
		}
	}
	return nil
}

// load reads the live facilities and active subscriptions.
func (w *AlertWriter) load(ctx context.Context) error {
	rows, err := w.tx.WithContext(ctx).Raw(`SELECT id, lon, lat, alert_radius_m FROM facilities WHERE deleted_at IS NULL`).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var f domain.Facility
		if err := rows.Scan(&f.ID, &f.Location[0], &f.Location[1], &f.AlertRadiusM); err != nil {
			return err
		}
		w.facilities = append(w.facilities, f)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if w.webhooks, err = findWebhooks(ctx, w.tx, "active = 1 AND deleted_at IS NULL"); err != nil {
		return err
	}
	w.loaded = true
	return nil
}

const alertColumns = `seq, facility_id, incident_id, incident_version, distance_m, created_at, incident`

func scanAlert(rows interface{ Scan(...any) error }) (domain.Alert, error) {
	var a domain.Alert
	var created int64
	var snap string
	if err := rows.Scan(&a.Seq, &a.FacilityID, &a.IncidentID, &a.IncidentVersion, &a.DistanceM, &created, &snap); err != nil {
		return a, err
	}
	a.ID, a.CreatedAt = domain.AlertID(a.Seq), fromMicros(created)
	if err := json.Unmarshal([]byte(snap), &a.Incident); err != nil {
		return a, fmt.Errorf("alert %d: decode incident: %w", a.Seq, err)
	}
	a.Incident.ApplyDefaults()
	return a, nil
}

// FindAlerts returns up to f.Limit alerts after f.AfterSeq matching f,
// oldest first, through the seq primary key (and alerts_facility when
// facilities are named).
func FindAlerts(ctx context.Context, db *gorm.DB, f domain.AlertFilter) (*domain.AlertPage, error) {
	var conds []string
	args := []any{f.AfterSeq}
	conds = append(conds, "seq > ?")
	if len(f.Facilities) > 0 {
		conds = append(conds, "facility_id IN ?")
		args = append(args, f.Facilities)
	}
	if f.SeverityMin > 0 {
		conds = append(conds, "severity >= ?")
		args = append(args, f.SeverityMin)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = domain.DefaultLimit
	}
	args = append(args, limit+1)
	rows, err := db.WithContext(ctx).Raw(`SELECT `+alertColumns+` FROM alerts WHERE `+strings.Join(conds, " AND ")+
		` ORDER BY seq LIMIT ?`, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := &domain.AlertPage{Items: []domain.Alert{}}
	for rows.Next() {
		if len(page.Items) == limit {
			page.More = true
			break
		}
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, a)
	}
	return page, rows.Err()
}

// AlertExists reports whether the alert stored at seq is still kept.
func AlertExists(ctx context.Context, db *gorm.DB, seq int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Raw(`SELECT count(*) FROM alerts WHERE seq = ?`, seq).Row().Scan(&n)
	return n > 0, err
}

// LastAlertSeq is the highest committed alert seq, 0 if none.
func LastAlertSeq(ctx context.Context, db *gorm.DB) (int64, error) {
	var seq int64
	err := db.WithContext(ctx).Raw(`SELECT coalesce(max(seq), 0) FROM alerts`).Row().Scan(&seq)
	return seq, err
}

// PurgeAlerts drops alerts stored before before that no outbox item still
// needs; the webhooks' attempt log goes with PurgeDeliveries.
func PurgeAlerts(ctx context.Context, tx *gorm.DB, before time.Time) error {
	return tx.WithContext(ctx).Exec(`DELETE FROM alerts WHERE created_at < ?
		AND NOT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.alert_seq = alerts.seq)`, micros(before)).Error
}

// nullInt turns a nullable integer column into a pointer.
func nullInt(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	n := int(v.Int64)
	return &n
}

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
