package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
)

// AlertServices is domain.AlertService and domain.WebhookService over the
// shared alert, webhook and outbox tables, for an engine's store to embed:
// reads go to Read, writes run in Transact's transactions at Now, and
// Translate maps the engine's errors to domain errors. Window is the alert
// window of the store's incident writes, Signal what they notify.
type AlertServices struct {
	Read      *gorm.DB
	Transact  func(ctx context.Context, fn func(tx *gorm.DB) error) error
	Now       func() time.Time
	Translate func(error) error
	Window    time.Duration
	Signal    *domain.Signal
}

// WriteAlerts returns the writer of the alerts of the incident writes of
// transaction tx, at the store clock's time.
func (a AlertServices) WriteAlerts(tx *gorm.DB) *AlertWriter {
	return NewAlertWriter(tx, a.Now(), a.Window)
}

// AlertsCommitted wakes this process's alert streams and webhook workers
// once a transaction that stored alerts through w has committed.
func (a AlertServices) AlertsCommitted(w *AlertWriter) {
	if w != nil && w.Stored() > 0 {
		a.Signal.Notify()
	}
}

// FindAlerts returns stored alerts after f.AfterSeq, oldest first.
func (a AlertServices) FindAlerts(ctx context.Context, f domain.AlertFilter) (*domain.AlertPage, error) {
	page, err := FindAlerts(ctx, a.Read, f)
	return page, a.Translate(err)
}

// AlertExists reports whether the alert at seq is still kept.
func (a AlertServices) AlertExists(ctx context.Context, seq int64) (bool, error) {
	ok, err := AlertExists(ctx, a.Read, seq)
	return ok, a.Translate(err)
}

// LastAlertSeq is the highest alert seq committed.
func (a AlertServices) LastAlertSeq(ctx context.Context) (int64, error) {
	seq, err := LastAlertSeq(ctx, a.Read)
	return seq, a.Translate(err)
}

// PurgeAlerts drops alerts older than before that nothing still owes.
func (a AlertServices) PurgeAlerts(ctx context.Context, before time.Time) error {
	return a.Translate(a.Transact(ctx, func(tx *gorm.DB) error { return PurgeAlerts(ctx, tx, before) }))
}

// CreateWebhook stores a subscription and returns its secret.
func (a AlertServices) CreateWebhook(ctx context.Context, w *domain.Webhook) (string, error) {
	var secret string
	err := a.Transact(ctx, func(tx *gorm.DB) (err error) {
		secret, err = CreateWebhook(ctx, tx, w, a.Now())
		return err
	})
	return secret, a.Translate(err)
}

// FindWebhooks lists the subscriptions.
func (a AlertServices) FindWebhooks(ctx context.Context) ([]domain.Webhook, error) {
	hooks, err := FindWebhooks(ctx, a.Read)
	return hooks, a.Translate(err)
}

// FindWebhookByID returns ENOTFOUND for an unknown or deleted id.
func (a AlertServices) FindWebhookByID(ctx context.Context, id int64) (*domain.Webhook, error) {
	hook, err := FindWebhookByID(ctx, a.Read, id)
	return hook, a.Translate(err)
}

// DeleteWebhook ends a subscription.
func (a AlertServices) DeleteWebhook(ctx context.Context, id int64) error {
	return a.Translate(a.Transact(ctx, func(tx *gorm.DB) error { return DeleteWebhook(ctx, tx, id, a.Now()) }))
}

// FindDeliveries lists a subscription's latest attempts, newest first.
func (a AlertServices) FindDeliveries(ctx context.Context, id int64, limit int) ([]domain.Delivery, error) {
	ds, err := FindDeliveries(ctx, a.Read, id, limit)
	return ds, a.Translate(err)
}

// DueWebhooks lists the subscriptions with deliveries due now.
func (a AlertServices) DueWebhooks(ctx context.Context) ([]int64, error) {
	ids, err := DueWebhooks(ctx, a.Read, a.Now())
	return ids, a.Translate(err)
}

// ClaimDeliveries leases due outbox items of webhook id to owner; claimers
// on other replicas never get the same item (see ClaimDeliveries).
func (a AlertServices) ClaimDeliveries(ctx context.Context, id int64, owner string, lease time.Duration, limit int) ([]domain.OutboxItem, error) {
	var items []domain.OutboxItem
	err := a.Transact(ctx, func(tx *gorm.DB) (err error) {
		items, err = ClaimDeliveries(ctx, tx, id, owner, a.Now(), lease, limit)
		return err
	})
	return items, a.Translate(err)
}

// RecordAttempts logs a batch of delivery attempts and settles their
// outbox items, in one transaction.
func (a AlertServices) RecordAttempts(ctx context.Context, owner string, rs []domain.AttemptResult) error {
	return a.Translate(a.Transact(ctx, func(tx *gorm.DB) error { return RecordAttempts(ctx, tx, owner, rs) }))
}

// PurgeDeliveries drops the attempt log older than before.
func (a AlertServices) PurgeDeliveries(ctx context.Context, before time.Time) error {
	return a.Translate(a.Transact(ctx, func(tx *gorm.DB) error { return PurgeDeliveries(ctx, tx, before) }))
}
