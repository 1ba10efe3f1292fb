package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
)

// ImportIncidents stores a batch of incidents in one transaction; each
// record runs under its own savepoint, so a rejected record leaves nothing
// behind while the rest of the batch commits.
func (s *Store) ImportIncidents(ctx context.Context, batch []*domain.Incident, actorNames map[string]string) ([]domain.ImportResult, error) {
	results := make([]domain.ImportResult, len(batch))
	err := s.transact(ctx, func(tx *gorm.DB) error {
		knownActors := map[string]bool{}
		for i, inc := range batch {
			inc.ApplyDefaults()
			if err := inc.Validate(); err != nil {
				results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: err}
				continue
			}
			sp := fmt.Sprintf("rec%d", i)
			if err := tx.SavePoint(sp).Error; err != nil {
				return err
			}
			outcome, err := s.importIncident(ctx, tx, inc, actorNames, knownActors)
			if err != nil {
				if domain.ErrorCodeOf(translate(err)) == domain.EINTERNAL {
					return err
				}
				if rbErr := tx.RollbackTo(sp).Error; rbErr != nil {
					return rbErr
				}
				results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: translate(err)}
				continue
			}
			// Released savepoints cost nothing; kept ones nest and slow every
			// later statement of the transaction.
			if err := tx.Exec("RELEASE SAVEPOINT " + sp).Error; err != nil {
				return err
			}
			results[i] = domain.ImportResult{Outcome: outcome, ID: inc.ID}
		}
		return nil
	})
	return results, translate(err)
}

func (s *Store) importIncident(ctx context.Context, tx *gorm.DB, inc *domain.Incident, actorNames map[string]string, known map[string]bool) (domain.ImportOutcome, error) {
	for _, a := range inc.Actors {
		if known[a.ActorID] {
			continue
		}
		var n int64
		if err := tx.Model(&actorRow{}).Where("id = ?", a.ActorID).Count(&n).Error; err != nil {
			return "", err
		}
		if n == 0 {
			name := actorNames[a.ActorID]
			if name == "" {
				name = a.ActorID
			}
			actor := &domain.Actor{ID: a.ActorID, Name: name}
			actor.ApplyDefaults()
			if err := actor.Validate(); err != nil {
				return "", err
			}
			if err := s.createActor(ctx, tx, actor); err != nil {
				return "", err
			}
		}
		known[a.ActorID] = true
	}
	if inc.ExternalID != nil {
		var existing int64
		err := tx.Raw(`SELECT id FROM incidents WHERE external_id = ? AND deleted_at IS NULL`, *inc.ExternalID).Scan(&existing).Error
		if err != nil {
			return "", err
		}
		if existing != 0 {
			return domain.ImportUpdated, s.replaceIncident(ctx, tx, existing, inc, 0)
		}
	}
	return domain.ImportCreated, s.createIncident(ctx, tx, inc)
}
