package sqlite

import (
	"context"

	"github.com/postwatch/postwatch/domain"
)

// DataVersion returns the highest history id and the number of posture
// changes in effect, read in one statement. SQLite has one writer at a
// time, so history ids commit in order and every write of a record
// appends its history row in the write's transaction (appendHistory): a
// larger id means newer data, whichever process wrote it. Posture changes
// recorded ahead of time show in reads from their effective_at on
// (postureNow) before ApplyDuePostures writes them, hence the count.
func (s *Store) DataVersion(ctx context.Context) (domain.DataVersion, error) {
	db, err := s.read.DB()
	if err != nil {
		return domain.DataVersion{}, err
	}
	var v domain.DataVersion
	err = db.QueryRowContext(ctx, `SELECT (SELECT coalesce(max(id), 0) FROM history),
		(SELECT count(*) FROM postures WHERE effective_at <= ?)`, micros(s.now())).Scan(&v.Change, &v.Due)
	return v, err
}
