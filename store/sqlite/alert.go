package sqlite

import (
	"context"
	"slices"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// possibleDuplicates lists the live incidents inc may repeat, the latest
// domain.MaxPossibleDuplicates of them in id order: the
// incidents_occurred_at index (which covers the coordinates) narrows to
// the time window and a box around inc, and domain.IsPossibleDuplicate
// decides.
func (s *Store) possibleDuplicates(ctx context.Context, tx *gorm.DB, inc *domain.Incident) ([]int64, error) {
	var out []int64
	for _, b := range geo.RadiusBounds(inc.Location, domain.DuplicateRadiusM) {
		rows, err := queryRows(ctx, tx, `SELECT id, lon, lat, occurred_at FROM incidents
			WHERE deleted_at IS NULL AND occurred_at BETWEEN ? AND ? AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?
			AND type = ? AND id != ? ORDER BY id DESC`,
			micros(inc.OccurredAt.Add(-domain.DuplicateWindow)), micros(inc.OccurredAt.Add(domain.DuplicateWindow)),
			b.Min[0], b.Max[0], b.Min[1], b.Max[1], string(inc.Type), inc.ID)
		if err != nil {
			return nil, err
		}
		found := 0
		for found < domain.MaxPossibleDuplicates && rows.Next() {
			other := domain.Incident{Type: inc.Type}
			var at int64
			if err := rows.Scan(&other.ID, &other.Location[0], &other.Location[1], &at); err != nil {
				rows.Close()
				return nil, err
			}
			other.OccurredAt = fromMicros(at)
			if domain.IsPossibleDuplicate(inc, &other) {
				out = append(out, other.ID)
				found++
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	// Two boxes (across the antimeridian) may each give their latest.
	slices.Sort(out)
	return out[max(0, len(out)-domain.MaxPossibleDuplicates):], nil
}
