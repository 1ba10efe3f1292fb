package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
)

// WebhookSecretPrefix marks webhook signing secrets, as Standard Webhooks
// recommends.
const WebhookSecretPrefix = "whsec_"

const webhookColumns = `id, url, facilities, severity_min, active, created_at, created_by, disabled_at`

func scanWebhook(rows interface{ Scan(...any) error }) (domain.Webhook, error) {
	var w domain.Webhook
	var facilities string
	var active int
	var created int64
	var disabled sql.NullInt64
	if err := rows.Scan(&w.ID, &w.URL, &facilities, &w.SeverityMin, &active, &created, &w.CreatedBy, &disabled); err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(facilities), &w.Facilities); err != nil {
		return w, fmt.Errorf("webhook %d: decode facilities: %w", w.ID, err)
	}
	if w.Facilities == nil {
		w.Facilities = []int64{}
	}
	w.Active, w.CreatedAt, w.DisabledAt = active == 1, fromMicros(created), nullTime(disabled)
	return w, nil
}

func findWebhooks(ctx context.Context, db *gorm.DB, where string, args ...any) ([]domain.Webhook, error) {
	rows, err := db.WithContext(ctx).Raw(`SELECT `+webhookColumns+` FROM webhooks WHERE `+where+` ORDER BY id`, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// CreateWebhook validates and stores w, returning its new secret:
// whsec_ and the base64 of 32 random bytes (Standard Webhooks' form). The
// secret is the HMAC key, so it is stored as it is; only an admin's
// listing could show it, and none does.
func CreateWebhook(ctx context.Context, tx *gorm.DB, w *domain.Webhook, now time.Time) (string, error) {
	if w.Facilities == nil {
		w.Facilities = []int64{}
	}
	if err := w.Validate(); err != nil {
		return "", err
	}
	if err := checkWebhookFacilities(ctx, tx, w.Facilities); err != nil {
		return "", err
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", err
	}
	secret := WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key[:])
	facilities, err := json.Marshal(w.Facilities)
	if err != nil {
		return "", err
	}
	w.Active, w.CreatedAt, w.CreatedBy = true, now, domain.PrincipalName(ctx)
	err = tx.WithContext(ctx).Raw(`INSERT INTO webhooks (url, facilities, severity_min, secret, active, created_at, created_by)
		VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING id`, w.URL, string(facilities), w.SeverityMin, secret, micros(now), w.CreatedBy).
		Row().Scan(&w.ID)
	if err != nil {
		return "", err
	}
	return secret, nil
}

// checkWebhookFacilities refuses a filter naming a facility that does not
// exist (or was deleted): such a subscription would never receive an
// alert, and its creator would never learn why. EINVALID names the entry.
func checkWebhookFacilities(ctx context.Context, tx *gorm.DB, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var live []int64
	if err := tx.WithContext(ctx).Raw(`SELECT id FROM facilities WHERE id IN ? AND deleted_at IS NULL`, ids).
		Scan(&live).Error; err != nil {
		return err
	}
	var p domain.Problems
	for i, id := range ids {
		if !slices.Contains(live, id) {
			p.Add(fmt.Sprintf("facility[%d]", i), "facility %d does not exist", id)
		}
	}
	return p.Err()
}

// FindWebhooks lists the subscriptions not deleted, by id.
func FindWebhooks(ctx context.Context, db *gorm.DB) ([]domain.Webhook, error) {
	return findWebhooks(ctx, db, "deleted_at IS NULL")
}

// FindWebhookByID returns ENOTFOUND for an unknown or deleted id.
func FindWebhookByID(ctx context.Context, db *gorm.DB, id int64) (*domain.Webhook, error) {
	ws, err := findWebhooks(ctx, db, "id = ? AND deleted_at IS NULL", id)
	if err != nil {
		return nil, err
	}
	if len(ws) == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "webhook %d not found", id)
	}
	return &ws[0], nil
}

// DeleteWebhook ends a subscription and drops what it was still owed; its
// attempt log stays until purged.
func DeleteWebhook(ctx context.Context, tx *gorm.DB, id int64, now time.Time) error {
	db := tx.WithContext(ctx)
	res := db.Exec(`UPDATE webhooks SET deleted_at = ?, active = 0 WHERE id = ? AND deleted_at IS NULL`, micros(now), id)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return domain.Errorf(domain.ENOTFOUND, "webhook %d not found", id)
	}
	return db.Exec(`DELETE FROM webhook_outbox WHERE webhook_id = ?`, id).Error
}

// FindDeliveries lists a subscription's latest attempts, newest first.
func FindDeliveries(ctx context.Context, db *gorm.DB, id int64, limit int) ([]domain.Delivery, error) {
	if _, err := FindWebhookByID(ctx, db, id); err != nil {
		return nil, err
	}
	rows, err := db.WithContext(ctx).Raw(`SELECT alert_seq, attempt, status, error, at, next_attempt_at
		FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?`, id, limit).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Delivery{}
	for rows.Next() {
		var d domain.Delivery
		var seq, at int64
		var status, next sql.NullInt64
		if err := rows.Scan(&seq, &d.Attempt, &status, &d.Error, &at, &next); err != nil {
			return nil, err
		}
		d.AlertID, d.Status, d.At, d.NextAttemptAt = domain.AlertID(seq), nullInt(status), fromMicros(at), nullTime(next)
		out = append(out, d)
	}
	return out, rows.Err()
}

// DueWebhooks lists the active subscriptions with an outbox item due at now
// and not leased, in one query over webhook_outbox_due.
func DueWebhooks(ctx context.Context, db *gorm.DB, now time.Time) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Raw(`SELECT DISTINCT o.webhook_id FROM webhook_outbox o
		WHERE o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)`, micros(now), micros(now)).Scan(&ids).Error
	return ids, err
}

// ClaimDeliveries leases up to limit due items of webhook id to owner
// until now+lease and returns them with their alert and subscription. On
// PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED, so replicas
// claiming at once take different items; on SQLite the write transaction
// already excludes every other writer.
func ClaimDeliveries(ctx context.Context, tx *gorm.DB, id int64, owner string, now time.Time, lease time.Duration, limit int) ([]domain.OutboxItem, error) {
	db := tx.WithContext(ctx)
	hook, err := FindWebhookByID(ctx, tx, id)
	if err != nil || !hook.Active {
		return nil, err
	}
	lock := ""
	if isPostgres(tx) {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var ids []int64
	if err := db.Raw(`SELECT id FROM webhook_outbox WHERE webhook_id = ? AND next_attempt_at <= ?
		AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?`+lock,
		id, micros(now), micros(now), limit).Scan(&ids).Error; err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := commitWithoutFlush(ctx, tx); err != nil {
		return nil, err
	}
	if err := db.Exec(`UPDATE webhook_outbox SET lease_owner = ?, lease_until = ?, attempt = attempt + 1 WHERE id IN ?`,
		owner, micros(now.Add(lease)), ids).Error; err != nil {
		return nil, err
	}
	var secret string
	if err := db.Raw(`SELECT secret FROM webhooks WHERE id = ?`, id).Row().Scan(&secret); err != nil {
		return nil, err
	}
	rows, err := db.Raw(`SELECT o.id, o.attempt, a.`+strings.ReplaceAll(alertColumns, ", ", ", a.")+`
		FROM webhook_outbox o JOIN alerts a ON a.seq = o.alert_seq WHERE o.id IN ? ORDER BY o.next_attempt_at, o.id`, ids).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.OutboxItem
	for rows.Next() {
		var it domain.OutboxItem
		var dest [2]any
		dest[0], dest[1] = &it.ID, &it.Attempt
		a, err := scanAlert(prefixed{rows, dest[:]})
		if err != nil {
			return nil, err
		}
		it.Alert, it.Webhook, it.Secret = a, *hook, secret
		it.MessageID = "msg_" + a.ID + "_" + itoa(id)
		out = append(out, it)
	}
	return out, rows.Err()
}

// commitWithoutFlush lets the transaction tx commit on PostgreSQL without
// waiting for its WAL to reach the disk (synchronous_commit off, for this
// transaction only). Only the dispatcher's own bookkeeping does so, the
// leases it takes and the attempts it records: a crash may lose them, and
// then an item is delivered once more with the same webhook-id, which
// at-least-once delivery allows; the alert and its outbox row were made
// durable by the incident write that stored them. It takes two disk
// flushes off each delivery's path. SQLite's durability is per
// connection, so there it is left as --durability says.
func commitWithoutFlush(ctx context.Context, tx *gorm.DB) error {
	if !isPostgres(tx) {
		return nil
	}
	return tx.WithContext(ctx).Exec(`SET LOCAL synchronous_commit = off`).Error
}

// prefixed scans leading columns into dest before handing the rest on.
type prefixed struct {
	rows interface{ Scan(...any) error }
	dest []any
}

func (p prefixed) Scan(rest ...any) error { return p.rows.Scan(append(p.dest, rest...)...) }

// RecordAttempts logs the attempts of a batch and settles their outbox
// items. One transaction for the batch, not one per attempt: on SQLite
// each write transaction waits its turn behind the incident writes, so a
// burst of alerts was delivered at the pace of those turns.
func RecordAttempts(ctx context.Context, tx *gorm.DB, owner string, rs []domain.AttemptResult) error {
	if err := commitWithoutFlush(ctx, tx); err != nil {
		return err
	}
	for _, r := range rs {
		if err := recordAttempt(ctx, tx, r, owner); err != nil {
			return err
		}
	}
	return nil
}

// recordAttempt logs an attempt and settles its outbox item: a delivered or
// abandoned item (Next nil) leaves the outbox, a failed one waits until
// Next; a 410 disables the subscription and drops all it was owed. An item
// whose lease another worker took meanwhile is only logged.
func recordAttempt(ctx context.Context, tx *gorm.DB, r domain.AttemptResult, owner string) error {
	db := tx.WithContext(ctx)
	var hookID, seq int64
	err := db.Raw(`SELECT webhook_id, alert_seq FROM webhook_outbox WHERE id = ? AND lease_owner = ?`, r.ItemID, owner).Row().Scan(&hookID, &seq)
	if err == sql.ErrNoRows {
		return nil // settled by whoever holds it now
	}
	if err != nil {
		return err
	}
	var nextAt any
	if r.Next != nil && !r.Delivered && !r.Gone {
		nextAt = micros(*r.Next)
	}
	var status any
	if r.Status != nil {
		status = *r.Status
	}
	if err := db.Exec(`INSERT INTO webhook_deliveries (webhook_id, alert_seq, attempt, status, error, at, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, hookID, seq, r.Attempt, status, r.Error, micros(r.At), nextAt).Error; err != nil {
		return err
	}
	switch {
	case r.Gone:
		if err := db.Exec(`UPDATE webhooks SET active = 0, disabled_at = ? WHERE id = ?`, micros(r.At), hookID).Error; err != nil {
			return err
		}
		return db.Exec(`DELETE FROM webhook_outbox WHERE webhook_id = ?`, hookID).Error
	case nextAt == nil:
		return db.Exec(`DELETE FROM webhook_outbox WHERE id = ?`, r.ItemID).Error
	default:
		return db.Exec(`UPDATE webhook_outbox SET next_attempt_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?`,
			nextAt, r.ItemID).Error
	}
}

// PurgeDeliveries drops the attempt log older than before.
func PurgeDeliveries(ctx context.Context, tx *gorm.DB, before time.Time) error {
	return tx.WithContext(ctx).Exec(`DELETE FROM webhook_deliveries WHERE at < ?`, micros(before)).Error
}
