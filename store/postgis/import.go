package postgis

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// ImportIncidents stores a batch of incidents in one transaction. An
// incident whose external_id a live incident holds replaces it (or, when it
// says the same, is ImportUnchanged); others are created, and the actors they name that do not exist are created too,
// named by actorNames. Each record is written under a savepoint: one that
// fails a check is rolled back to it and rejected, and the rest of the
// batch commits; any other failure rolls the whole batch back.
func (s *Store) ImportIncidents(ctx context.Context, batch []*domain.Incident, actorNames map[string]string) ([]domain.ImportResult, error) {
	results := make([]domain.ImportResult, len(batch))
	err := s.writeWithAlerts(ctx, func(tx *gorm.DB, alerts *store.AlertWriter) error {
		for i, inc := range batch {
			inc.ApplyDefaults()
			if err := inc.Validate(); err != nil {
				results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: err}
				continue
			}
			var outcome domain.ImportOutcome
			// A nested Transaction is a savepoint.
			err := tx.Transaction(func(sp *gorm.DB) (err error) {
				outcome, err = s.importOne(ctx, sp, inc, actorNames, alerts)
				return err
			})
			err = translate(err)
			switch domain.ErrorCodeOf(err) {
			case domain.EINVALID, domain.ECONFLICT:
				results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: err}
			default:
				if err != nil {
					return fmt.Errorf("import record %d: %w", i, err)
				}
				results[i] = domain.ImportResult{Outcome: outcome, ID: inc.ID}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// importOne writes one validated record: the actors it names that are
// missing, then a replacement of the live incident holding its external_id
// or a new incident.
func (s *Store) importOne(ctx context.Context, tx *gorm.DB, inc *domain.Incident, actorNames map[string]string, alerts *store.AlertWriter) (domain.ImportOutcome, error) {
	var p domain.Problems
	for j, a := range inc.Actors {
		var deleted *bool
		rows, err := tx.Raw(`SELECT deleted_at IS NOT NULL FROM actors WHERE id = ?`, a.ActorID).Rows()
		if err != nil {
			return "", err
		}
		for rows.Next() {
			if err := rows.Scan(&deleted); err != nil {
				rows.Close()
				return "", err
			}
		}
		if err := rows.Close(); err != nil {
			return "", err
		}
		switch {
		case deleted != nil && *deleted:
			p.Add(fmt.Sprintf("properties.actors[%d].actor_id", j), "actor %q was deleted", a.ActorID)
		case deleted == nil:
			actor, err := store.ImportedActor(a.ActorID, actorNames)
			if err != nil {
				return "", err
			}
			// Another importer may create it first: that is no conflict here.
			if err := s.createActor(ctx, tx, actor); err != nil && domain.ErrorCodeOf(err) != domain.ECONFLICT {
				return "", err
			}
		}
	}
	if err := p.Err(); err != nil {
		return "", err
	}
	if inc.ExternalID != nil {
		var id int64
		rows, err := tx.Raw(`SELECT id FROM incidents WHERE external_id = ? AND deleted_at IS NULL`, *inc.ExternalID).Rows()
		if err != nil {
			return "", err
		}
		for rows.Next() {
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return "", err
			}
		}
		if err := rows.Close(); err != nil {
			return "", err
		}
		if id != 0 {
			changed, err := s.replaceIncident(ctx, tx, id, inc, 0, alerts)
			if !changed {
				return domain.ImportUnchanged, err
			}
			return domain.ImportUpdated, err
		}
	}
	if err := checkIncidentRefs(tx, inc, nil); err != nil {
		return "", err
	}
	if err := s.insertIncident(ctx, tx, inc); err != nil {
		return "", err
	}
	return domain.ImportCreated, alerts.Write(ctx, nil, inc)
}
