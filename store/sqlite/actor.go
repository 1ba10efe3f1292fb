package sqlite

import (
	"context"
	"encoding/json"
	"strconv"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

type actorRow struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Kind        string
	Aliases     string
	Country     string
	Description string
	CreatedAt   int64 `gorm:"autoCreateTime:false"`
	UpdatedAt   int64 `gorm:"autoUpdateTime:false"`
	Version     int
	DeletedAt   *int64
}

func (actorRow) TableName() string { return "actors" }

func newActorRow(a *domain.Actor) (*actorRow, error) {
	aliases, err := json.Marshal(a.Aliases)
	if err != nil {
		return nil, err
	}
	return &actorRow{ID: a.ID, Name: a.Name, Kind: string(a.Kind), Aliases: string(aliases), Country: a.Country,
		Description: a.Description, CreatedAt: micros(a.CreatedAt), UpdatedAt: micros(a.UpdatedAt), Version: a.Version}, nil
}

func (r *actorRow) actor() (domain.Actor, error) {
	a := domain.Actor{ID: r.ID, Name: r.Name, Kind: domain.ActorKind(r.Kind), Country: r.Country,
		Description: r.Description, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt), Version: r.Version}
	err := json.Unmarshal([]byte(r.Aliases), &a.Aliases)
	return a, err
}

// FindActors returns a page of live actors by id and the total matching.
// Text matches names and aliases, case-insensitively.
func (s *Store) FindActors(ctx context.Context, f domain.ActorFilter) ([]domain.Actor, int, error) {
	q := s.read.WithContext(ctx).Model(&actorRow{}).Where("deleted_at IS NULL")
	if f.Text != "" {
		p := store.LikePattern(f.Text)
		q = q.Where(`(name LIKE ? ESCAPE '\' OR aliases LIKE ? ESCAPE '\' OR id LIKE ? ESCAPE '\')`, p, p, p)
	}
	if len(f.Kind) > 0 {
		q = q.Where("kind IN ?", f.Kind)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	limit := f.Page.Limit
	if limit <= 0 {
		limit = domain.DefaultLimit
	}
	var rows []actorRow
	if err := q.Order("id").Limit(limit).Offset(f.Page.Offset).Find(&rows).Error; err != nil {
		return nil, 0, err
	}
	out := make([]domain.Actor, len(rows))
	for i := range rows {
		a, err := rows[i].actor()
		if err != nil {
			return nil, 0, err
		}
		out[i] = a
	}
	return out, int(total), nil
}

// FindActorByID returns ENOTFOUND if no live actor has id.
func (s *Store) FindActorByID(ctx context.Context, id string) (*domain.Actor, error) {
	return findActor(ctx, s.read, id)
}

func findActor(ctx context.Context, db *gorm.DB, id string) (*domain.Actor, error) {
	var r actorRow
	err := db.WithContext(ctx).Where("id = ? AND deleted_at IS NULL", id).Take(&r).Error
	if err == gorm.ErrRecordNotFound {
		return nil, domain.Errorf(domain.ENOTFOUND, "actor %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	a, err := r.actor()
	return &a, err
}

// CreateActor stores a new actor; ECONFLICT if its id is taken, also by a
// deleted actor, whose history keeps the id.
func (s *Store) CreateActor(ctx context.Context, a *domain.Actor) error {
	a.ApplyDefaults()
	if err := a.Validate(); err != nil {
		return err
	}
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		return s.createActor(ctx, tx, a)
	}))
}

func (s *Store) createActor(ctx context.Context, tx *gorm.DB, a *domain.Actor) error {
	var n int64
	if err := tx.Model(&actorRow{}).Where("id = ?", a.ID).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return &domain.Error{Code: domain.ECONFLICT, Message: "actor " + a.ID + " already exists",
			Fields: []domain.FieldError{{Field: "id", Message: "is taken"}}}
	}
	now := s.now()
	a.CreatedAt, a.UpdatedAt, a.Version = now, now, 1
	row, err := newActorRow(a)
	if err != nil {
		return err
	}
	if err := tx.Create(row).Error; err != nil {
		return err
	}
	return appendHistory(ctx, tx, store.CollActors, a.ID, 1, store.OpCreate, now, domain.PrincipalName(ctx), a)
}

// ReplaceActor overwrites a live actor, checking ifVersion when set.
func (s *Store) ReplaceActor(ctx context.Context, id string, a *domain.Actor, ifVersion int) error {
	a.ID = id
	a.ApplyDefaults()
	if err := a.Validate(); err != nil {
		return err
	}
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := findActor(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := store.CheckVersion(ifVersion, cur.Version); err != nil {
			return err
		}
		a.CreatedAt, a.UpdatedAt, a.Version = cur.CreatedAt, cur.UpdatedAt, cur.Version
		if store.Same(cur, a) {
			return nil
		}
		a.UpdatedAt, a.Version = s.now(), cur.Version+1
		row, err := newActorRow(a)
		if err != nil {
			return err
		}
		if err := tx.Model(&actorRow{}).Where("id = ?", id).Select("*").Omit("id", "deleted_at").Updates(row).Error; err != nil {
			return err
		}
		return appendHistory(ctx, tx, store.CollActors, id, a.Version, store.OpUpdate, a.UpdatedAt, domain.PrincipalName(ctx), a)
	}))
}

// DeleteActor removes a live actor from listings. Incidents naming it keep
// the reference; its relations are removed with it.
func (s *Store) DeleteActor(ctx context.Context, id string, ifVersion int) error {
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := findActor(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := store.CheckVersion(ifVersion, cur.Version); err != nil {
			return err
		}
		// The actor's relations go with it, each deletion recorded.
		if _, err := s.deleteRelationsWhere(ctx, tx, "subject_id = ? OR target_id = ?", id, id); err != nil {
			return err
		}
		return s.softDelete(ctx, tx, &actorRow{}, store.CollActors, id, id, &cur.Version, &cur.UpdatedAt, cur)
	}))
}

// ActorHistory returns every version of an actor, oldest first.
func (s *Store) ActorHistory(ctx context.Context, id string) ([]domain.Version[domain.Actor], error) {
	return readHistory[domain.Actor](ctx, s.read, store.CollActors, id)
}

type relationRow struct {
	ID        int64 `gorm:"primaryKey"`
	SubjectID string
	Kind      string
	TargetID  string
	ValidFrom *int64
	ValidTo   *int64
	Source    string
	CreatedAt int64 `gorm:"autoCreateTime:false"`
}

func (relationRow) TableName() string { return "relations" }

func (r *relationRow) relation() domain.Relation {
	return domain.Relation{ID: r.ID, SubjectID: r.SubjectID, Kind: domain.RelationKind(r.Kind), TargetID: r.TargetID,
		ValidFrom: timePtr(r.ValidFrom), ValidTo: timePtr(r.ValidTo), Source: r.Source}
}

// FindRelations lists the relations whose subject is actorID.
func (s *Store) FindRelations(ctx context.Context, actorID string) ([]domain.Relation, error) {
	if _, err := s.FindActorByID(ctx, actorID); err != nil {
		return nil, err
	}
	var rows []relationRow
	if err := s.read.WithContext(ctx).Where("subject_id = ?", actorID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	return relations(rows), nil
}

// allRelations returns the whole actor graph, which chain attribution walks.
func (s *Store) allRelations(ctx context.Context) ([]domain.Relation, error) {
	var rows []relationRow
	if err := s.read.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	return relations(rows), nil
}

func relations(rows []relationRow) []domain.Relation {
	out := make([]domain.Relation, len(rows))
	for i := range rows {
		out[i] = rows[i].relation()
	}
	return out
}

// CreateRelation stores a relation from r.SubjectID; ENOTFOUND if the
// subject does not exist, EINVALID if the target does not.
func (s *Store) CreateRelation(ctx context.Context, r *domain.Relation) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		if _, err := findActor(ctx, tx, r.SubjectID); err != nil {
			return err
		}
		if _, err := findActor(ctx, tx, r.TargetID); err != nil {
			return domain.InvalidField("target_id", "actor %q does not exist", r.TargetID)
		}
		row := relationRow{SubjectID: r.SubjectID, Kind: string(r.Kind), TargetID: r.TargetID,
			ValidFrom: microsPtr(r.ValidFrom), ValidTo: microsPtr(r.ValidTo), Source: r.Source, CreatedAt: micros(s.now())}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		r.ID = row.ID
		return appendHistory(ctx, tx, store.CollRelations, strconv.FormatInt(r.ID, 10), 1, store.OpCreate, fromMicros(row.CreatedAt), domain.PrincipalName(ctx), r)
	}))
}

// deleteRelationsWhere deletes the relations a condition selects and
// records each deletion, with the relation's last state, in its history.
// It returns how many it deleted.
func (s *Store) deleteRelationsWhere(ctx context.Context, tx *gorm.DB, where string, args ...any) (int, error) {
	var rows []relationRow
	if err := tx.Where(where, args...).Find(&rows).Error; err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	ids := make([]int64, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	if err := tx.Where("id IN ?", ids).Delete(&relationRow{}).Error; err != nil {
		return 0, err
	}
	now := s.now()
	for i := range rows {
		r := rows[i].relation()
		if err := appendHistory(ctx, tx, store.CollRelations, strconv.FormatInt(r.ID, 10), 2, store.OpDelete, now, domain.PrincipalName(ctx), &r); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}

// RelationHistory returns the creation and deletion of every relation whose
// subject is actorID, in the order they happened; ENOTFOUND if the actor
// never existed. Relations stored before their changes were recorded (by
// an older version) appear as created by "unknown" when they were stored.
func (s *Store) RelationHistory(ctx context.Context, actorID string) ([]domain.Version[domain.Relation], error) {
	var n int64
	if err := s.read.WithContext(ctx).Model(&historyRow{}).Where("collection = ? AND record_id = ?", store.CollActors, actorID).Count(&n).Error; err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "actor %q never existed", actorID)
	}
	var rows []historyRow
	err := s.read.WithContext(ctx).Where("collection = ? AND json_extract(snapshot, '$.subject_id') = ?", store.CollRelations, actorID).
		Order("changed_at, id").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	return decodeHistory[domain.Relation](rows)
}

// DeleteRelation removes one relation of actorID; ENOTFOUND if it has none
// with that id.
func (s *Store) DeleteRelation(ctx context.Context, actorID string, relationID int64) error {
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		n, err := s.deleteRelationsWhere(ctx, tx, "id = ? AND subject_id = ?", relationID, actorID)
		if err == nil && n == 0 {
			return domain.Errorf(domain.ENOTFOUND, "actor %q has no relation %d", actorID, relationID)
		}
		return err
	}))
}

// DeleteRelations removes actorID's relations of kind to targetID;
// ENOTFOUND if it has none.
func (s *Store) DeleteRelations(ctx context.Context, actorID string, kind domain.RelationKind, targetID string) error {
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		n, err := s.deleteRelationsWhere(ctx, tx, "subject_id = ? AND kind = ? AND target_id = ?", actorID, string(kind), targetID)
		if err == nil && n == 0 {
			return domain.Errorf(domain.ENOTFOUND, "actor %q has no %s relation to %q", actorID, kind, targetID)
		}
		return err
	}))
}
