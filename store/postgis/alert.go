package postgis

import (
	"slices"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// possibleDuplicates lists the live incidents inc may repeat, the latest
// domain.MaxPossibleDuplicates of them in id order: the GiST index narrows
// to a box around inc, the occurred_at index to the time window, and
// domain.IsPossibleDuplicate decides.
func possibleDuplicates(tx *gorm.DB, inc *domain.Incident) ([]int64, error) {
	var out []int64
	for _, b := range geo.RadiusBounds(inc.Location, domain.DuplicateRadiusM) {
		rows, err := tx.Raw(`SELECT id, lon, lat, occurred_at FROM incidents
			WHERE deleted_at IS NULL AND occurred_at BETWEEN ? AND ? AND geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)
			AND type = ? AND id <> ? ORDER BY id DESC`,
			ts(inc.OccurredAt.Add(-domain.DuplicateWindow)), ts(inc.OccurredAt.Add(domain.DuplicateWindow)),
			b.Min[0], b.Min[1], b.Max[0], b.Max[1], string(inc.Type), inc.ID).Rows()
		if err != nil {
			return nil, err
		}
		for found := 0; found < domain.MaxPossibleDuplicates && rows.Next(); {
			other := domain.Incident{Type: inc.Type}
			if err := rows.Scan(&other.ID, &other.Location[0], &other.Location[1], &other.OccurredAt); err != nil {
				rows.Close()
				return nil, err
			}
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
