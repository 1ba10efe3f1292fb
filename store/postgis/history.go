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
	rows, err := db.Raw(`SELECT version, op, changed_at, changed_by, snapshot FROM history
		WHERE collection = ? AND record_id = ? ORDER BY version`, collection, recordID).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []domain.Version[T]
	for rows.Next() {
		var v domain.Version[T]
		var snap string
		if err := rows.Scan(&v.Version, &v.Op, &v.ChangedAt, &v.ChangedBy, &snap); err != nil {
			return nil, err
		}
		v.ChangedAt = v.ChangedAt.UTC()
		if err := json.Unmarshal([]byte(snap), &v.Record); err != nil {
			return nil, fmt.Errorf("decode history of %s %s v%d: %w", collection, recordID, v.Version, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	if len(out) == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "%s %s has no history", collection, recordID)
	}
	return out, nil
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
