package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
)

// ImportIncidents stores a batch of incidents in one transaction. Each
// record is checked against the database before anything of it is written,
// so a rejected record leaves nothing behind while the rest of the batch
// commits; a failure while writing rolls the whole batch back.
func (s *Store) ImportIncidents(ctx context.Context, batch []*domain.Incident, actorNames map[string]string) ([]domain.ImportResult, error) {
	results := make([]domain.ImportResult, len(batch))
	err := s.transact(ctx, func(tx *gorm.DB) error {
		actors := map[string]actorState{}
		var created []int64
		for i, inc := range batch {
			inc.ApplyDefaults()
			outcome, err := s.importIncident(ctx, tx, inc, actorNames, actors)
			if err != nil {
				if domain.ErrorCodeOf(err) == domain.EINTERNAL {
					return err
				}
				results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: err}
				continue
			}
			results[i] = domain.ImportResult{Outcome: outcome, ID: inc.ID}
			if outcome == domain.ImportCreated {
				created = append(created, inc.ID)
			}
		}
		return indexText(tx, created)
	})
	return results, translate(err)
}

type actorState int

const (
	actorMissing actorState = iota + 1
	actorLive
	actorDeleted
)

// importIncident checks one record (returning a domain error to reject it
// before any write), creates the actors it names that do not exist, and
// creates the incident or replaces the one holding its external_id.
func (s *Store) importIncident(ctx context.Context, tx *gorm.DB, inc *domain.Incident, actorNames map[string]string, actors map[string]actorState) (domain.ImportOutcome, error) {
	if err := inc.Validate(); err != nil {
		return "", err
	}
	var p domain.Problems
	for i, a := range inc.Actors {
		state, ok := actors[a.ActorID]
		if !ok {
			var deleted bool
			err := queryRow(ctx, tx, `SELECT deleted_at IS NOT NULL FROM actors WHERE id = ?`, a.ActorID).Scan(&deleted)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				state = actorMissing
			case err != nil:
				return "", err
			case deleted:
				state = actorDeleted
			default:
				state = actorLive
			}
			actors[a.ActorID] = state
		}
		if state == actorDeleted {
			p.Add(fmt.Sprintf("properties.actors[%d].actor_id", i), "actor %q was deleted", a.ActorID)
		}
	}
	if err := p.Err(); err != nil {
		return "", err
	}
	var existing int64
	if inc.ExternalID != nil {
		err := queryRow(ctx, tx, `SELECT coalesce(max(id), 0) FROM incidents WHERE external_id = ? AND deleted_at IS NULL`, *inc.ExternalID).Scan(&existing)
		if err != nil {
			return "", err
		}
	}
	if existing == 0 {
		// Facility, and an external_id held by a deleted incident.
		if err := checkIncidentRefs(ctx, tx, &domain.Incident{FacilityID: inc.FacilityID, ExternalID: inc.ExternalID}, nil); err != nil {
			return "", err
		}
	}
	for _, a := range inc.Actors {
		if actors[a.ActorID] != actorMissing {
			continue
		}
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
			return "", internal(err)
		}
		actors[a.ActorID] = actorLive
	}
	if existing != 0 {
		if err := s.replaceIncident(ctx, tx, existing, inc, 0); err != nil {
			return "", err
		}
		return domain.ImportUpdated, nil
	}
	return domain.ImportCreated, internal(s.insertIncident(ctx, tx, inc))
}

// internal marks a failure after checks passed as internal, so that it
// rolls back the whole batch instead of rejecting one half-written record.
func internal(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("import write: %w", err)
}
