package sqlite

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
)

// alertWriter raises the alerts of the incident writes of transaction tx
// at the store clock's time.
func (s *Store) alertWriter(tx *gorm.DB) *store.AlertWriter {
	return store.NewAlertWriter(tx, s.now(), s.opts.AlertWindow)
}

// alertsCommitted wakes this process's alert streams and webhook workers
// once a transaction that stored alerts has committed.
func (s *Store) alertsCommitted(w *store.AlertWriter) {
	if w != nil && w.Stored() > 0 {
		s.opts.Signal.Notify()
	}
}

// possibleDuplicates lists the live incidents inc may repeat: the
// incidents_occurred_at index (which covers the coordinates) narrows to
// the time window and a box around inc, and domain.IsPossibleDuplicate
// decides.
func (s *Store) possibleDuplicates(ctx context.Context, tx *gorm.DB, inc *domain.Incident) ([]int64, error) {
	var out []int64
	for _, b := range geo.RadiusBounds(inc.Location, domain.DuplicateRadiusM) {
		rows, err := queryRows(ctx, tx, `SELECT id, lon, lat, occurred_at FROM incidents
			WHERE deleted_at IS NULL AND occurred_at BETWEEN ? AND ? AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?
			AND type = ? AND id != ? ORDER BY id`,
			micros(inc.OccurredAt.Add(-domain.DuplicateWindow)), micros(inc.OccurredAt.Add(domain.DuplicateWindow)),
			b.Min[0], b.Max[0], b.Min[1], b.Max[1], string(inc.Type), inc.ID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			other := domain.Incident{Type: inc.Type}
			var at int64
			if err := rows.Scan(&other.ID, &other.Location[0], &other.Location[1], &at); err != nil {
				rows.Close()
				return nil, err
			}
			other.OccurredAt = fromMicros(at)
			if domain.IsPossibleDuplicate(inc, &other) {
				out = append(out, other.ID)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FindAlerts returns stored alerts after f.AfterSeq, oldest first.
func (s *Store) FindAlerts(ctx context.Context, f domain.AlertFilter) (*domain.AlertPage, error) {
	return store.FindAlerts(ctx, s.read, f)
}

// AlertExists reports whether the alert at seq is still kept.
func (s *Store) AlertExists(ctx context.Context, seq int64) (bool, error) {
	return store.AlertExists(ctx, s.read, seq)
}

// LastAlertSeq is the highest alert seq committed.
func (s *Store) LastAlertSeq(ctx context.Context) (int64, error) {
	return store.LastAlertSeq(ctx, s.read)
}

// PurgeAlerts drops alerts older than before that nothing still owes.
func (s *Store) PurgeAlerts(ctx context.Context, before time.Time) error {
	return s.transact(ctx, func(tx *gorm.DB) error { return store.PurgeAlerts(ctx, tx, before) })
}

// CreateWebhook stores a subscription and returns its secret.
func (s *Store) CreateWebhook(ctx context.Context, w *domain.Webhook) (string, error) {
	var secret string
	err := s.transact(ctx, func(tx *gorm.DB) (err error) {
		secret, err = store.CreateWebhook(ctx, tx, w, s.now())
		return err
	})
	return secret, translate(err)
}

// FindWebhooks lists the subscriptions.
func (s *Store) FindWebhooks(ctx context.Context) ([]domain.Webhook, error) {
	return store.FindWebhooks(ctx, s.read)
}

// FindWebhookByID returns ENOTFOUND for an unknown or deleted id.
func (s *Store) FindWebhookByID(ctx context.Context, id int64) (*domain.Webhook, error) {
	return store.FindWebhookByID(ctx, s.read, id)
}

// DeleteWebhook ends a subscription.
func (s *Store) DeleteWebhook(ctx context.Context, id int64) error {
	return translate(s.transact(ctx, func(tx *gorm.DB) error { return store.DeleteWebhook(ctx, tx, id, s.now()) }))
}

// FindDeliveries lists a subscription's latest attempts, newest first.
func (s *Store) FindDeliveries(ctx context.Context, id int64, limit int) ([]domain.Delivery, error) {
	return store.FindDeliveries(ctx, s.read, id, limit)
}

// DueWebhooks lists the subscriptions with deliveries due now.
func (s *Store) DueWebhooks(ctx context.Context) ([]int64, error) {
	return store.DueWebhooks(ctx, s.read, s.now())
}

// ClaimDeliveries leases due outbox items of webhook id to owner.
func (s *Store) ClaimDeliveries(ctx context.Context, id int64, owner string, lease time.Duration, limit int) ([]domain.OutboxItem, error) {
	var items []domain.OutboxItem
	err := s.transact(ctx, func(tx *gorm.DB) (err error) {
		items, err = store.ClaimDeliveries(ctx, tx, id, owner, s.now(), lease, limit)
		return err
	})
	return items, err
}

// RecordAttempt logs a delivery attempt and settles its outbox item.
func (s *Store) RecordAttempt(ctx context.Context, r domain.AttemptResult, owner string, next *time.Time) error {
	return s.transact(ctx, func(tx *gorm.DB) error { return store.RecordAttempt(ctx, tx, r, owner, next) })
}

// PurgeDeliveries drops the attempt log older than before.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time) error {
	return s.transact(ctx, func(tx *gorm.DB) error { return store.PurgeDeliveries(ctx, tx, before) })
}
