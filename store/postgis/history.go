package postgis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// appendHistory records one version of a record in the caller's
// transaction, so a write and its history commit together or not at all.
func appendHistory(tx *gorm.DB, collection, recordID string, version int, op string, at time.Time, by string, record any) error {
	snap, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("encode history snapshot: %w", err)
	}
	return tx.Exec(`INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, collection, recordID, version, op, at, by, string(snap)).Error
}

// readHistory returns every version of a record, oldest first; ENOTFOUND
// if it never existed.
func readHistory[T any](db *gorm.DB, collection, recordID string) ([]domain.Version[T], error) {
	out, err := queryHistory[T](db, `collection = ? AND record_id = ? ORDER BY version`, collection, recordID)
	if err == nil && len(out) == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "%s %s has no history", collection, recordID)
	}
	return out, err
}

// queryHistory decodes the history rows cond selects (and orders).
func queryHistory[T any](db *gorm.DB, cond string, args ...any) ([]domain.Version[T], error) {
	rows, err := db.Raw(`SELECT record_id, version, op, changed_at, changed_by, snapshot FROM history WHERE `+cond, args...).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []domain.Version[T]{}
	for rows.Next() {
		var v domain.Version[T]
		var id, snap string
		if err := rows.Scan(&id, &v.Version, &v.Op, &v.ChangedAt, &v.ChangedBy, &snap); err != nil {
			return nil, translate(err)
		}
		v.ChangedAt = v.ChangedAt.UTC()
		if err := json.Unmarshal([]byte(snap), &v.Record); err != nil {
			return nil, fmt.Errorf("decode history of %s v%d: %w", id, v.Version, err)
		}
		out = append(out, v)
	}
	return out, translate(rows.Err())
}

// HeldRecords reports whether an incident, facility or actor was ever
// stored: deleted records keep their rows (and ids), so any row counts.
func (s *Store) HeldRecords(ctx context.Context) (bool, error) {
	var held bool
	err := store.FirstRow(s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM incidents) OR EXISTS (SELECT 1 FROM facilities)
		OR EXISTS (SELECT 1 FROM actors)`).Rows()).Scan(&held)
	return held, translate(err)
}

// softDelete marks a record of table deleted as its next version (bumping
// version and updatedAt in the caller's copy) and records that version,
// with the record's last state, in its history. The caller holds the row.
func (s *Store) softDelete(ctx context.Context, tx *gorm.DB, table, collection string, id any, recordID string, version *int, updatedAt *time.Time, record any) error {
	now := s.now()
	*version++
	*updatedAt = now
	if err := tx.Exec(`UPDATE `+table+` SET deleted_at = ?, updated_at = ?, version = ? WHERE id = ?`, now, now, *version, id).Error; err != nil {
		return err
	}
	return appendHistory(tx, collection, recordID, *version, store.OpDelete, now, domain.PrincipalName(ctx), record)
}
