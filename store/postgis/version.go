package postgis

import (
	"context"
	"hash/fnv"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// DataVersion returns the database's current snapshot, as a 64-bit FNV-1a
// hash of pg_current_snapshot()'s text, and the number of posture changes
// in effect, read in one statement. History ids commit out of order on
// PostgreSQL, so their maximum would not do; a snapshot (xmin, xmax and
// the transactions still running) changes whenever any transaction that
// wrote commits, from whichever replica (or in another database of the
// server: a cached answer is then made again, never served stale), and
// stays put while only reads run. Posture changes recorded ahead of time show in reads from their
// effective_at on, before ApplyDuePostures writes them, hence the count.
func (s *Store) DataVersion(ctx context.Context) (domain.DataVersion, error) {
	var snap string
	var v domain.DataVersion
	err := store.FirstRow(s.db.WithContext(ctx).Raw(`SELECT pg_current_snapshot()::text,
		(SELECT count(*) FROM postures WHERE effective_at <= ?)`, s.now()).Rows()).Scan(&snap, &v.Due)
	if err != nil {
		return domain.DataVersion{}, translate(err)
	}
	h := fnv.New64a()
	h.Write([]byte(snap))
	v.Change = int64(h.Sum64())
	return v, nil
}
