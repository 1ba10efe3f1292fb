package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// HeldRecords reports whether an incident, facility or actor was ever
// stored: deleted records keep their rows (and ids), so any row counts.
func (s *Store) HeldRecords(ctx context.Context) (bool, error) {
	var held bool
	err := store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM incidents) OR EXISTS (SELECT 1 FROM facilities)
		OR EXISTS (SELECT 1 FROM actors)`).Rows()).Scan(&held)
	return held, err
}

type historyRow struct {
	Collection string
	RecordID   string
	Version    int
	Op         string
	ChangedAt  int64
	ChangedBy  string
	Snapshot   string
}

func (historyRow) TableName() string { return "history" }

// appendHistory records one version of a record in the caller's transaction,
// so a write and its history commit together or not at all.
func appendHistory(ctx context.Context, tx *gorm.DB, collection, recordID string, version int, op string, at time.Time, by string, record any) error {
	snap, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("encode history snapshot: %w", err)
	}
	return exec(ctx, tx, `INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, collection, recordID, version, op, micros(at), by, string(snap))
}

// readHistory returns every version of a record, oldest first; ENOTFOUND if
// it never existed.
func readHistory[T any](ctx context.Context, db *gorm.DB, collection, recordID string) ([]domain.Version[T], error) {
	var rows []historyRow
	err := db.WithContext(ctx).Where("collection = ? AND record_id = ?", collection, recordID).
		Order("version").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "%s %s has no history", collection, recordID)
	}
	return decodeHistory[T](rows)
}

// decodeHistory turns history rows into versions.
func decodeHistory[T any](rows []historyRow) ([]domain.Version[T], error) {
	out := make([]domain.Version[T], len(rows))
	for i, r := range rows {
		out[i] = domain.Version[T]{Version: r.Version, Op: r.Op, ChangedAt: fromMicros(r.ChangedAt), ChangedBy: r.ChangedBy}
		if err := json.Unmarshal([]byte(r.Snapshot), &out[i].Record); err != nil {
			return nil, fmt.Errorf("decode history of %s %s v%d: %w", r.Collection, r.RecordID, r.Version, err)
		}
	}
	return out, nil
}

// softDelete marks a record deleted as its next version (bumping version
// and updatedAt in the caller's copy) and records that version, with the
// record's last state, in its history.
func (s *Store) softDelete(ctx context.Context, tx *gorm.DB, model any, collection string, id any, recordID string, version *int, updatedAt *time.Time, record any) error {
	now := s.now()
	*version++
	*updatedAt = now
	err := tx.Model(model).Where("id = ?", id).
		Updates(map[string]any{"deleted_at": micros(now), "updated_at": micros(now), "version": *version}).Error
	if err != nil {
		return err
	}
	return appendHistory(ctx, tx, collection, recordID, *version, store.OpDelete, now, domain.PrincipalName(ctx), record)
}
