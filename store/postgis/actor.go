package postgis

import (
	"context"
	"encoding/json"
	"strconv"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// actorColumns are read in the order scanActor expects.
const actorColumns = `id, name, kind, aliases, country, description, created_at, updated_at, version`

func scanActor(rows interface{ Scan(...any) error }) (domain.Actor, error) {
	var a domain.Actor
	var kind, aliases string
	if err := rows.Scan(&a.ID, &a.Name, &kind, &aliases, &a.Country, &a.Description, &a.CreatedAt, &a.UpdatedAt, &a.Version); err != nil {
		return a, err
	}
	a.Kind, a.CreatedAt, a.UpdatedAt = domain.ActorKind(kind), a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, json.Unmarshal([]byte(aliases), &a.Aliases)
}

// FindActors returns a page of live actors by id and the total matching.
// Text matches ids, names and aliases, ignoring the case of ASCII letters.
func (s *Store) FindActors(ctx context.Context, f domain.ActorFilter) ([]domain.Actor, int, error) {
	q := s.db.WithContext(ctx).Table("actors").Where("deleted_at IS NULL")
	if f.Text != "" {
		p := store.LikePattern(f.Text)
		q = q.Where(`(name ILIKE ? OR aliases ILIKE ? OR id ILIKE ?)`, p, p, p)
	}
	q = anyOf(q, "kind", f.Kind)
	var total int64
	if err := q.Session(&gorm.Session{}).Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	limit := f.Page.Limit
	if limit <= 0 {
		limit = domain.DefaultLimit
	}
	rows, err := q.Select(actorColumns).Order("id").Limit(limit).Offset(f.Page.Offset).Rows()
	if err != nil {
		return nil, 0, translate(err)
	}
	defer rows.Close()
	out := []domain.Actor{}
	for rows.Next() {
		a, err := scanActor(rows)
		if err != nil {
			return nil, 0, translate(err)
		}
		out = append(out, a)
	}
	return out, int(total), translate(rows.Err())
}

// FindActorByID returns ENOTFOUND if no live actor has id.
func (s *Store) FindActorByID(ctx context.Context, id string) (*domain.Actor, error) {
	a, err := findActor(s.db.WithContext(ctx), id, "")
	return a, translate(err)
}

// findActor reads live actor id; lock as in findIncident.
func findActor(db *gorm.DB, id, lock string) (*domain.Actor, error) {
	return findOne(db, scanActor, domain.Errorf(domain.ENOTFOUND, "actor %q not found", id),
		`SELECT `+actorColumns+` FROM actors WHERE id = ? AND deleted_at IS NULL `+lock, id)
}

// CreateActor stores a new actor; ECONFLICT if its id is taken, also by a
// deleted actor, whose history keeps the id.
func (s *Store) CreateActor(ctx context.Context, a *domain.Actor) error {
	a.ApplyDefaults()
	if err := a.Validate(); err != nil {
		return err
	}
	return s.transact(ctx, func(tx *gorm.DB) error {
		return s.createActor(ctx, tx, a)
	})
}

// createActor inserts a, or reports the id taken: ON CONFLICT settles a
// race between two creators of one id without an error that would abort
// the caller's transaction (an import's batch).
func (s *Store) createActor(ctx context.Context, tx *gorm.DB, a *domain.Actor) error {
	now := s.now()
	a.CreatedAt, a.UpdatedAt, a.Version = now, now, 1
	aliases, err := json.Marshal(a.Aliases)
	if err != nil {
		return err
	}
	res := tx.Exec(`INSERT INTO actors (id, name, kind, aliases, country, description, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		a.ID, a.Name, string(a.Kind), string(aliases), a.Country, a.Description, now, now, 1)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return &domain.Error{Code: domain.ECONFLICT, Message: "actor " + a.ID + " already exists",
			Fields: []domain.FieldError{{Field: "id", Message: "is taken"}}}
	}
	return appendHistory(tx, store.CollActors, a.ID, 1, store.OpCreate, now, domain.PrincipalName(ctx), a)
}

// ReplaceActor overwrites a live actor, checking ifVersion when set with
// its row locked to the commit.
func (s *Store) ReplaceActor(ctx context.Context, id string, a *domain.Actor, ifVersion int) error {
	a.ID = id
	a.ApplyDefaults()
	if err := a.Validate(); err != nil {
		return err
	}
	return s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := findActor(tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		a.CreatedAt, a.UpdatedAt, a.Version = cur.CreatedAt, cur.UpdatedAt, cur.Version
		if changes, err := store.Changes(ifVersion, cur.Version, cur, a); !changes {
			return err
		}
		a.UpdatedAt, a.Version = s.now(), cur.Version+1
		aliases, err := json.Marshal(a.Aliases)
		if err != nil {
			return err
		}
		err = tx.Exec(`UPDATE actors SET name = ?, kind = ?, aliases = ?, country = ?, description = ?, updated_at = ?,
			version = ? WHERE id = ?`, a.Name, string(a.Kind), string(aliases), a.Country, a.Description, a.UpdatedAt,
			a.Version, id).Error
		if err != nil {
			return err
		}
		return appendHistory(tx, store.CollActors, id, a.Version, store.OpUpdate, a.UpdatedAt, domain.PrincipalName(ctx), a)
	})
}

// DeleteActor removes a live actor from listings. Incidents naming it keep
// the reference; its relations are removed with it.
func (s *Store) DeleteActor(ctx context.Context, id string, ifVersion int) error {
	return s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := findActor(tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if err := store.CheckVersion(ifVersion, cur.Version); err != nil {
			return err
		}
		if _, err := s.deleteRelationsWhere(ctx, tx, `subject_id = ? OR target_id = ?`, id, id); err != nil {
			return err
		}
		return s.softDelete(ctx, tx, "actors", store.CollActors, id, id, &cur.Version, &cur.UpdatedAt, cur)
	})
}

// ActorHistory returns every version of an actor, oldest first.
func (s *Store) ActorHistory(ctx context.Context, id string) ([]domain.Version[domain.Actor], error) {
	return readHistory[domain.Actor](s.db.WithContext(ctx), store.CollActors, id)
}

// FindRelations lists the relations whose subject is actorID.
func (s *Store) FindRelations(ctx context.Context, actorID string) ([]domain.Relation, error) {
	if _, err := s.FindActorByID(ctx, actorID); err != nil {
		return nil, err
	}
	rels, err := queryRelations(s.db.WithContext(ctx).Where("subject_id = ?", actorID))
	return rels, translate(err)
}

// allRelations returns the whole actor graph, which chain attribution walks.
func allRelations(db *gorm.DB) ([]domain.Relation, error) {
	rels, err := queryRelations(db)
	return rels, translate(err)
}

// queryRelations reads the relations q selects, by id.
func queryRelations(q *gorm.DB) ([]domain.Relation, error) {
	rows, err := q.Table("relations").Select("id, subject_id, kind, target_id, valid_from, valid_to, source").Order("id").Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Relation{}
	for rows.Next() {
		var r domain.Relation
		var kind string
		if err := rows.Scan(&r.ID, &r.SubjectID, &kind, &r.TargetID, &r.ValidFrom, &r.ValidTo, &r.Source); err != nil {
			return nil, err
		}
		r.Kind, r.ValidFrom, r.ValidTo = domain.RelationKind(kind), utcPtr(r.ValidFrom), utcPtr(r.ValidTo)
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateRelation stores a relation from r.SubjectID; ENOTFOUND if the
// subject does not exist, EINVALID if the target does not. Both actors
// are share-locked, so neither can be deleted before the commit.
func (s *Store) CreateRelation(ctx context.Context, r *domain.Relation) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return s.transact(ctx, func(tx *gorm.DB) error {
		if _, err := findActor(tx, r.SubjectID, "FOR SHARE"); err != nil {
			return err
		}
		if _, err := findActor(tx, r.TargetID, "FOR SHARE"); err != nil {
			if domain.ErrorCodeOf(err) == domain.ENOTFOUND {
				return domain.InvalidField("target_id", "actor %q does not exist", r.TargetID)
			}
			return err
		}
		now := s.now()
		err := store.FirstRow(tx.Raw(`INSERT INTO relations (subject_id, kind, target_id, valid_from, valid_to, source, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, r.SubjectID, string(r.Kind), r.TargetID, tsPtr(r.ValidFrom),
			tsPtr(r.ValidTo), r.Source, now).Rows()).Scan(&r.ID)
		if err != nil {
			return err
		}
		return appendHistory(tx, store.CollRelations, strconv.FormatInt(r.ID, 10), 1, store.OpCreate, now, domain.PrincipalName(ctx), r)
	})
}

// DeleteRelation removes one relation of actorID; ENOTFOUND if it has none
// with that id.
func (s *Store) DeleteRelation(ctx context.Context, actorID string, relationID int64) error {
	return s.deleteRelations(ctx, domain.Errorf(domain.ENOTFOUND, "actor %q has no relation %d", actorID, relationID),
		`id = ? AND subject_id = ?`, relationID, actorID)
}

// DeleteRelations removes actorID's relations of kind to targetID;
// ENOTFOUND if it has none.
func (s *Store) DeleteRelations(ctx context.Context, actorID string, kind domain.RelationKind, targetID string) error {
	return s.deleteRelations(ctx, domain.Errorf(domain.ENOTFOUND, "actor %q has no %s relation to %q", actorID, kind, targetID),
		`subject_id = ? AND kind = ? AND target_id = ?`, actorID, string(kind), targetID)
}

// deleteRelations deletes the relations cond selects in one transaction;
// none when there are none.
func (s *Store) deleteRelations(ctx context.Context, none error, cond string, args ...any) error {
	return s.transact(ctx, func(tx *gorm.DB) error {
		n, err := s.deleteRelationsWhere(ctx, tx, cond, args...)
		if err == nil && n == 0 {
			return none
		}
		return err
	})
}

// deleteRelationsWhere deletes the relations cond selects and records each
// deletion, with the relation's last state, as its second version.
func (s *Store) deleteRelationsWhere(ctx context.Context, tx *gorm.DB, cond string, args ...any) (int, error) {
	rels, err := queryRelations(tx.Where(cond, args...))
	if err != nil || len(rels) == 0 {
		return 0, err
	}
	ids := make([]int64, len(rels))
	for i, r := range rels {
		ids[i] = r.ID
	}
	if err := tx.Exec(`DELETE FROM relations WHERE id IN ?`, ids).Error; err != nil {
		return 0, err
	}
	now := s.now()
	for i := range rels {
		if err := appendHistory(tx, store.CollRelations, strconv.FormatInt(rels[i].ID, 10), 2, store.OpDelete, now, domain.PrincipalName(ctx), &rels[i]); err != nil {
			return 0, err
		}
	}
	return len(rels), nil
}

// RelationHistory returns the creation and deletion of every relation
// whose subject is actorID, in the order they happened; ENOTFOUND if the
// actor never existed.
func (s *Store) RelationHistory(ctx context.Context, actorID string) ([]domain.Version[domain.Relation], error) {
	db := s.db.WithContext(ctx)
	var existed bool
	if err := store.FirstRow(db.Raw(`SELECT EXISTS (SELECT 1 FROM history WHERE collection = ? AND record_id = ?)`,
		store.CollActors, actorID).Rows()).Scan(&existed); err != nil {
		return nil, translate(err)
	}
	if !existed {
		return nil, domain.Errorf(domain.ENOTFOUND, "actor %q never existed", actorID)
	}
	return queryHistory[domain.Relation](db, `collection = ? AND CAST(snapshot AS jsonb) ->> 'subject_id' = ? ORDER BY changed_at, id`,
		store.CollRelations, actorID)
}
