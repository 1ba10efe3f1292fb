package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
)

type facilityRow struct {
	ID           int64 `gorm:"primaryKey"`
	Lon, Lat     float64
	Name         string
	Kind         string
	Country      string
	City         string
	AlertRadiusM float64
	Posture      string
	CreatedAt    int64 `gorm:"autoCreateTime:false"`
	UpdatedAt    int64 `gorm:"autoUpdateTime:false"`
	Version      int
	DeletedAt    *int64
}

func (facilityRow) TableName() string { return "facilities" }

func newFacilityRow(f *domain.Facility) *facilityRow {
	return &facilityRow{
		ID: f.ID, Lon: f.Location[0], Lat: f.Location[1], Name: f.Name, Kind: string(f.Kind),
		Country: f.Country, City: f.City, AlertRadiusM: f.AlertRadiusM, Posture: string(f.Posture),
		CreatedAt: micros(f.CreatedAt), UpdatedAt: micros(f.UpdatedAt), Version: f.Version,
	}
}

func (r *facilityRow) facility() domain.Facility {
	return domain.Facility{
		ID: r.ID, Location: [2]float64{r.Lon, r.Lat}, Name: r.Name, Kind: domain.FacilityKind(r.Kind),
		Country: r.Country, City: r.City, AlertRadiusM: r.AlertRadiusM, Posture: domain.Posture(r.Posture),
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt), Version: r.Version,
	}
}

// postureNow is a facility's posture at the time bound to its one
// parameter: that of the latest posture change recorded in advance whose
// effective_at has come since the facility was last written, else the
// stored one. A change recorded ahead of time thus takes effect at its
// effective_at on every read, before ApplyDuePostures writes it as a new
// facility version; a facility written after it came due (a PUT) wins.
const postureNow = `coalesce((SELECT p.posture FROM postures p WHERE p.facility_id = i.id
	AND p.effective_at > i.updated_at AND p.effective_at <= ? ORDER BY p.effective_at DESC, p.id DESC LIMIT 1), i.posture)`

// facilityColumns take the read time (postureNow's parameter) as their
// first argument.
const facilityColumns = `i.id, i.lon, i.lat, i.name, i.kind, i.country, i.city, i.alert_radius_m,
	` + postureNow + `, i.created_at, i.updated_at, i.version`

func scanFacility(rows interface{ Scan(...any) error }, r *facilityRow) error {
	return rows.Scan(&r.ID, &r.Lon, &r.Lat, &r.Name, &r.Kind, &r.Country, &r.City, &r.AlertRadiusM,
		&r.Posture, &r.CreatedAt, &r.UpdatedAt, &r.Version)
}

// FindFacilities returns one page of live facilities matching f, by id.
func (s *Store) FindFacilities(ctx context.Context, f domain.FacilityFilter) (*domain.FacilityPage, error) {
	w := &where{}
	w.add("i.deleted_at IS NULL")
	spatialFilter(w, "facilities_rtree", f.BBox, f.Near)
	inList(w, "i.kind", f.Kinds)
	if len(f.Postures) > 0 {
		args := []any{micros(s.now())}
		for _, p := range f.Postures {
			args = append(args, p)
		}
		w.add(postureNow+" IN ("+placeholders(len(f.Postures))+")", args...)
	}
	inList(w, "i.country", f.Countries)
	if f.Text != "" {
		w.add("(i.name LIKE ? ESCAPE '\\' OR i.city LIKE ? ESCAPE '\\')", store.LikePattern(f.Text), store.LikePattern(f.Text))
	}
	if f.Where != nil {
		if err := compileExpr(w, f.Where, domain.FacilityQueryables, "facilities_rtree"); err != nil {
			return nil, err
		}
	}
	db := s.read.WithContext(ctx)
	var matched int
	if err := store.FirstRow(db.Raw(`SELECT count(*) FROM facilities i WHERE `+w.sql(), w.args...).Rows()).Scan(&matched); err != nil {
		return nil, err
	}
	if c := f.Page.Cursor; c != nil {
		if c.Sort != "" {
			return nil, domain.InvalidField("cursor", "was made for another collection")
		}
		w.add("i.id > ?", c.ID)
	}
	limit := f.Page.Limit
	if limit <= 0 {
		limit = domain.DefaultLimit
	}
	args := append([]any{micros(s.now())}, w.args...)
	rows, err := db.Raw(`SELECT `+facilityColumns+` FROM facilities i WHERE `+w.sql()+` ORDER BY i.id LIMIT ? OFFSET ?`,
		append(args, limit+1, f.Page.Offset)...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := &domain.FacilityPage{Matched: matched, Items: []domain.FacilityHit{}}
	var r facilityRow
	for rows.Next() {
		if len(page.Items) == limit {
			page.Next = &domain.Cursor{ID: page.Items[limit-1].ID}
			break
		}
		if err := scanFacility(rows, &r); err != nil {
			return nil, err
		}
		hit := domain.FacilityHit{Facility: r.facility()}
		if f.Near != nil {
			d := geo.Distance(f.Near.Center, hit.Location)
			hit.DistanceM = &d
		}
		page.Items = append(page.Items, hit)
	}
	return page, rows.Err()
}

// FindFacilityByID returns ENOTFOUND if no live facility has id.
func (s *Store) FindFacilityByID(ctx context.Context, id int64) (*domain.Facility, error) {
	return s.findFacility(ctx, s.read, id)
}

func (s *Store) findFacility(ctx context.Context, db *gorm.DB, id int64) (*domain.Facility, error) {
	var r facilityRow
	row := store.FirstRow(db.WithContext(ctx).Raw(`SELECT `+facilityColumns+` FROM facilities i WHERE i.id = ? AND i.deleted_at IS NULL`, micros(s.now()), id).Rows())
	if err := scanFacility(row, &r); err != nil {
		if err == sql.ErrNoRows {
			return nil, domain.Errorf(domain.ENOTFOUND, "facility %d not found", id)
		}
		return nil, err
	}
	f := r.facility()
	return &f, nil
}

// CreateFacility validates and stores f with its first history version.
func (s *Store) CreateFacility(ctx context.Context, f *domain.Facility) error {
	f.ApplyDefaults()
	if err := f.Validate(); err != nil {
		return err
	}
	if err := f.SettlePosture(""); err != nil {
		return err
	}
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		now := s.now()
		f.CreatedAt, f.UpdatedAt, f.Version = now, now, 1
		row := newFacilityRow(f)
		if err := tx.Create(row).Error; err != nil {
			return err
		}
		f.ID = row.ID
		return appendHistory(ctx, tx, store.CollFacilities, strconv.FormatInt(f.ID, 10), 1, store.OpCreate, now, domain.PrincipalName(ctx), f)
	}))
}

// ReplaceFacility overwrites a live facility, checking ifVersion when set.
func (s *Store) ReplaceFacility(ctx context.Context, id int64, f *domain.Facility, ifVersion int) error {
	f.ApplyDefaults()
	if err := f.Validate(); err != nil {
		return err
	}
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := s.findFacility(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := store.CheckVersion(ifVersion, cur.Version); err != nil {
			return err
		}
		if err := f.SettlePosture(cur.Posture); err != nil {
			return err
		}
		f.ID, f.CreatedAt, f.UpdatedAt, f.Version = id, cur.CreatedAt, cur.UpdatedAt, cur.Version
		if store.Same(cur, f) {
			return nil
		}
		return s.updateFacility(ctx, tx, cur, f)
	}))
}

// updateFacility writes f as the next version of cur.
func (s *Store) updateFacility(ctx context.Context, tx *gorm.DB, cur, f *domain.Facility) error {
	f.ID, f.CreatedAt, f.UpdatedAt, f.Version = cur.ID, cur.CreatedAt, s.now(), cur.Version+1
	err := tx.Model(&facilityRow{}).Where("id = ?", cur.ID).Select("*").Omit("id", "deleted_at").Updates(newFacilityRow(f)).Error
	if err != nil {
		return err
	}
	return appendHistory(ctx, tx, store.CollFacilities, strconv.FormatInt(f.ID, 10), f.Version, store.OpUpdate, f.UpdatedAt, domain.PrincipalName(ctx), f)
}

// DeleteFacility removes a live facility from every listing; its history
// and the incidents linked to it stay.
func (s *Store) DeleteFacility(ctx context.Context, id int64, ifVersion int) error {
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := s.findFacility(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := store.CheckVersion(ifVersion, cur.Version); err != nil {
			return err
		}
		return s.softDelete(ctx, tx, &facilityRow{}, store.CollFacilities, id, strconv.FormatInt(id, 10), &cur.Version, &cur.UpdatedAt, cur)
	}))
}

// FacilityHistory returns every version of a facility, oldest first.
func (s *Store) FacilityHistory(ctx context.Context, id int64) ([]domain.Version[domain.Facility], error) {
	return readHistory[domain.Facility](ctx, s.read, store.CollFacilities, strconv.FormatInt(id, 10))
}

type postureRow struct {
	ID          int64 `gorm:"primaryKey"`
	FacilityID  int64
	Posture     string
	EffectiveAt int64
	Reason      string
	RecordedAt  int64
	RecordedBy  string
	IncidentIDs string // a JSON array
}

func (r *postureRow) change() (domain.PostureChange, error) {
	c := domain.PostureChange{ID: r.ID, FacilityID: r.FacilityID, Posture: domain.Posture(r.Posture),
		EffectiveAt: fromMicros(r.EffectiveAt), Reason: r.Reason, RecordedAt: fromMicros(r.RecordedAt), RecordedBy: r.RecordedBy}
	if err := json.Unmarshal([]byte(r.IncidentIDs), &c.IncidentIDs); err != nil {
		return c, fmt.Errorf("posture change %d: decode incident_ids: %w", r.ID, err)
	}
	if c.IncidentIDs == nil {
		c.IncidentIDs = []int64{}
	}
	return c, nil
}

func (postureRow) TableName() string { return "postures" }

// RecordPosture stores a posture change. One already in effect becomes the
// facility's posture (a new facility version) unless a later change is in
// effect too; one recorded ahead of time takes effect at its effective_at
// (see postureNow and ApplyDuePostures). The incidents it names must exist.
func (s *Store) RecordPosture(ctx context.Context, c *domain.PostureChange) error {
	c.EffectiveAt = c.EffectiveAt.UTC().Truncate(time.Microsecond)
	if c.IncidentIDs == nil {
		c.IncidentIDs = []int64{}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	err := translate(s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := s.findFacility(ctx, tx, c.FacilityID)
		if err != nil {
			return err
		}
		var p domain.Problems
		for i, id := range c.IncidentIDs {
			var n int64
			if err := queryRow(ctx, tx, `SELECT count(*) FROM incidents WHERE id = ? AND deleted_at IS NULL`, id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				p.Add(fmt.Sprintf("incident_ids[%d]", i), "incident %d does not exist", id)
			}
		}
		if err := p.Err(); err != nil {
			return err
		}
		ids, err := json.Marshal(c.IncidentIDs)
		if err != nil {
			return err
		}
		now := s.now()
		c.RecordedAt, c.RecordedBy = now, domain.PrincipalName(ctx)
		row := postureRow{FacilityID: c.FacilityID, Posture: string(c.Posture), EffectiveAt: micros(c.EffectiveAt),
			Reason: c.Reason, RecordedAt: micros(c.RecordedAt), RecordedBy: c.RecordedBy, IncidentIDs: string(ids)}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		c.ID = row.ID
		if c.EffectiveAt.After(now) {
			return nil // postureNow and ApplyDuePostures take it from here
		}
		var later int64
		if err := tx.Raw(`SELECT count(*) FROM postures WHERE facility_id = ? AND effective_at > ? AND effective_at <= ?`,
			c.FacilityID, row.EffectiveAt, micros(now)).Scan(&later).Error; err != nil {
			return err
		}
		if later > 0 || cur.Posture == c.Posture {
			return nil
		}
		next := *cur
		next.Posture = c.Posture
		return s.updateFacility(ctx, tx, cur, &next)
	}))
	if err == nil {
		s.opts.Signal.Notify()
	}
	return err
}

// ApplyDuePostures writes every posture change recorded ahead of time whose
// effective_at has come as a new version of its facility, so history and
// ETags follow what postureNow already shows. It returns how many
// facilities changed; serve calls it every second.
func (s *Store) ApplyDuePostures(ctx context.Context) (int, error) {
	now := micros(s.now())
	var due []int64
	err := s.read.WithContext(ctx).Raw(`SELECT DISTINCT p.facility_id FROM postures p JOIN facilities i ON i.id = p.facility_id
		WHERE i.deleted_at IS NULL AND p.effective_at > i.updated_at AND p.effective_at <= ?`, now).Scan(&due).Error
	if err != nil || len(due) == 0 {
		return 0, err
	}
	changed := 0
	for _, id := range due {
		err := s.transact(ctx, func(tx *gorm.DB) error {
			var stored facilityRow
			if err := tx.Where("id = ?", id).Take(&stored).Error; err != nil {
				return err
			}
			cur, err := s.findFacility(ctx, tx, id) // its posture is postureNow's
			if err != nil {
				return err
			}
			if string(cur.Posture) == stored.Posture {
				// Only the stored time moves on, so the change is not due again.
				return tx.Model(&facilityRow{}).Where("id = ?", id).Update("updated_at", now).Error
			}
			before := stored.facility()
			changed++
			return s.updateFacility(ctx, tx, &before, cur)
		})
		if err != nil {
			return changed, translate(err)
		}
	}
	return changed, nil
}

// FindPostures lists a facility's posture changes by effective time.
func (s *Store) FindPostures(ctx context.Context, facilityID int64) ([]domain.PostureChange, error) {
	if _, err := s.FindFacilityByID(ctx, facilityID); err != nil {
		return nil, err
	}
	var rows []postureRow
	if err := s.read.WithContext(ctx).Where("facility_id = ?", facilityID).Order("effective_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	return postureChanges(rows)
}

func postureChanges(rows []postureRow) ([]domain.PostureChange, error) {
	out := make([]domain.PostureChange, len(rows))
	for i := range rows {
		c, err := rows[i].change()
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// PostureChangesAfter returns up to limit posture changes with ids above
// id, in id order, for the alert stream's posture events.
func (s *Store) PostureChangesAfter(ctx context.Context, id int64, limit int) ([]domain.PostureChange, error) {
	var rows []postureRow
	if err := s.read.WithContext(ctx).Where("id > ?", id).Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	return postureChanges(rows)
}

// LastPostureID is the highest posture change id stored, 0 if none.
func (s *Store) LastPostureID(ctx context.Context) (int64, error) {
	var id int64
	err := s.read.WithContext(ctx).Raw(`SELECT coalesce(max(id), 0) FROM postures`).Row().Scan(&id)
	return id, err
}
