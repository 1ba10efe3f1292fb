package postgis

import (
	"context"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
)

// facilityColumns are read in the order scanFacility expects.
const facilityColumns = `i.id, i.lon, i.lat, i.name, i.kind, i.country, i.city, i.alert_radius_m, i.posture,
	i.created_at, i.updated_at, i.version`

func scanFacility(rows interface{ Scan(...any) error }) (domain.Facility, error) {
	var f domain.Facility
	var kind, posture string
	err := rows.Scan(&f.ID, &f.Location[0], &f.Location[1], &f.Name, &kind, &f.Country, &f.City, &f.AlertRadiusM,
		&posture, &f.CreatedAt, &f.UpdatedAt, &f.Version)
	f.Kind, f.Posture = domain.FacilityKind(kind), domain.Posture(posture)
	f.CreatedAt, f.UpdatedAt = f.CreatedAt.UTC(), f.UpdatedAt.UTC()
	return f, err
}

// FindFacilities returns one page of live facilities matching f, by id,
// with the number of matches. Text matches names and cities, ignoring the
// case of ASCII letters as SQLite's LIKE does.
func (s *Store) FindFacilities(ctx context.Context, f domain.FacilityFilter) (*domain.FacilityPage, error) {
	q := s.db.WithContext(ctx).Table("facilities AS i").Where("i.deleted_at IS NULL")
	q = spatial(q, f.BBox, f.Near)
	q = anyOf(q, "i.kind", f.Kinds)
	q = anyOf(q, "i.posture", f.Postures)
	q = anyOf(q, "i.country", f.Countries)
	if f.Text != "" {
		q = q.Where(`(i.name ILIKE ? OR i.city ILIKE ?)`, store.LikePattern(f.Text), store.LikePattern(f.Text))
	}
	if f.Where != nil {
		cond, args, err := compile(f.Where, domain.FacilityQueryables)
		if err != nil {
			return nil, err
		}
		q = q.Where(cond, args...)
	}
	var matched int64
	if err := q.Session(&gorm.Session{}).Count(&matched).Error; err != nil {
		return nil, translate(err)
	}
	if c := f.Page.Cursor; c != nil {
		if c.Sort != "" {
			return nil, domain.InvalidField("cursor", "was made for another collection")
		}
		q = q.Where("i.id > ?", c.ID)
	}
	limit := f.Page.Limit
	if limit <= 0 {
		limit = domain.DefaultLimit
	}
	rows, err := q.Select(facilityColumns).Order("i.id").Limit(limit + 1).Offset(f.Page.Offset).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	page := &domain.FacilityPage{Matched: int(matched), Items: []domain.FacilityHit{}}
	for rows.Next() {
		if len(page.Items) == limit {
			page.Next = &domain.Cursor{ID: page.Items[limit-1].ID}
			break
		}
		fac, err := scanFacility(rows)
		if err != nil {
			return nil, translate(err)
		}
		hit := domain.FacilityHit{Facility: fac}
		if f.Near != nil {
			d := geo.Distance(f.Near.Center, hit.Location)
			hit.DistanceM = &d
		}
		page.Items = append(page.Items, hit)
	}
	return page, translate(rows.Err())
}

// FindFacilityByID returns ENOTFOUND if no live facility has id.
func (s *Store) FindFacilityByID(ctx context.Context, id int64) (*domain.Facility, error) {
	f, err := findFacility(s.db.WithContext(ctx), id, "")
	return f, translate(err)
}

// findFacility reads live facility id; lock as in findIncident.
func findFacility(db *gorm.DB, id int64, lock string) (*domain.Facility, error) {
	return findOne(db, scanFacility, domain.Errorf(domain.ENOTFOUND, "facility %d not found", id),
		`SELECT `+facilityColumns+` FROM facilities i WHERE i.id = ? AND i.deleted_at IS NULL `+lock, id)
}

// CreateFacility validates and stores f with its first history version.
func (s *Store) CreateFacility(ctx context.Context, f *domain.Facility) error {
	f.ApplyDefaults()
	if err := f.Validate(); err != nil {
		return err
	}
	return s.transact(ctx, func(tx *gorm.DB) error {
		now := s.now()
		f.CreatedAt, f.UpdatedAt, f.Version = now, now, 1
		err := store.FirstRow(tx.Raw(`INSERT INTO facilities (lon, lat, name, kind, country, city, alert_radius_m, posture,
			created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			f.Location[0], f.Location[1], f.Name, string(f.Kind), f.Country, f.City, f.AlertRadiusM, string(f.Posture),
			now, now, 1).Rows()).Scan(&f.ID)
		if err != nil {
			return err
		}
		return appendHistory(tx, store.CollFacilities, strconv.FormatInt(f.ID, 10), 1, store.OpCreate, now, domain.PrincipalName(ctx), f)
	})
}

// ReplaceFacility overwrites a live facility, checking ifVersion when set
// with its row locked to the commit.
func (s *Store) ReplaceFacility(ctx context.Context, id int64, f *domain.Facility, ifVersion int) error {
	f.ApplyDefaults()
	if err := f.Validate(); err != nil {
		return err
	}
	return s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := findFacility(tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		f.ID, f.CreatedAt, f.UpdatedAt, f.Version = id, cur.CreatedAt, cur.UpdatedAt, cur.Version
		if changes, err := store.Changes(ifVersion, cur.Version, cur, f); !changes {
			return err
		}
		return s.updateFacility(ctx, tx, cur, f)
	})
}

// updateFacility writes f as the next version of cur, whose row the
// caller holds.
func (s *Store) updateFacility(ctx context.Context, tx *gorm.DB, cur, f *domain.Facility) error {
	f.ID, f.CreatedAt, f.UpdatedAt, f.Version = cur.ID, cur.CreatedAt, s.now(), cur.Version+1
	err := tx.Exec(`UPDATE facilities SET lon = ?, lat = ?, name = ?, kind = ?, country = ?, city = ?, alert_radius_m = ?,
		posture = ?, updated_at = ?, version = ? WHERE id = ?`,
		f.Location[0], f.Location[1], f.Name, string(f.Kind), f.Country, f.City, f.AlertRadiusM, string(f.Posture),
		f.UpdatedAt, f.Version, f.ID).Error
	if err != nil {
		return err
	}
	return appendHistory(tx, store.CollFacilities, strconv.FormatInt(f.ID, 10), f.Version, store.OpUpdate, f.UpdatedAt, domain.PrincipalName(ctx), f)
}

// DeleteFacility removes a live facility from every listing; its history
// and the incidents linked to it stay.
func (s *Store) DeleteFacility(ctx context.Context, id int64, ifVersion int) error {
	return s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := findFacility(tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if err := store.CheckVersion(ifVersion, cur.Version); err != nil {
			return err
		}
		return s.softDelete(ctx, tx, "facilities", store.CollFacilities, id, strconv.FormatInt(id, 10), &cur.Version, &cur.UpdatedAt, cur)
	})
}

// FacilityHistory returns every version of a facility, oldest first.
func (s *Store) FacilityHistory(ctx context.Context, id int64) ([]domain.Version[domain.Facility], error) {
	return readHistory[domain.Facility](s.db.WithContext(ctx), store.CollFacilities, strconv.FormatInt(id, 10))
}

// RecordPosture stores a posture change; when no later change is already
// in effect, the facility takes the new posture as a new version. The
// facility's row is locked first, so two changes recorded at once are
// applied one after the other.
func (s *Store) RecordPosture(ctx context.Context, c *domain.PostureChange) error {
	c.EffectiveAt = c.EffectiveAt.UTC().Truncate(time.Microsecond)
	if err := c.Validate(); err != nil {
		return err
	}
	return s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := findFacility(tx, c.FacilityID, "FOR UPDATE")
		if err != nil {
			return err
		}
		c.RecordedAt, c.RecordedBy = s.now(), domain.PrincipalName(ctx)
		err = store.FirstRow(tx.Raw(`INSERT INTO postures (facility_id, posture, effective_at, reason, recorded_at, recorded_by)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, c.FacilityID, string(c.Posture), c.EffectiveAt, c.Reason,
			c.RecordedAt, c.RecordedBy).Rows()).Scan(&c.ID)
		if err != nil {
			return err
		}
		var later bool
		err = store.FirstRow(tx.Raw(`SELECT EXISTS (SELECT 1 FROM postures WHERE facility_id = ? AND effective_at > ?)`,
			c.FacilityID, c.EffectiveAt).Rows()).Scan(&later)
		if err != nil {
			return err
		}
		if !later && cur.Posture != c.Posture {
			next := *cur
			next.Posture = c.Posture
			return s.updateFacility(ctx, tx, cur, &next)
		}
		return nil
	})
}

// FindPostures lists a facility's posture changes by effective time.
func (s *Store) FindPostures(ctx context.Context, facilityID int64) ([]domain.PostureChange, error) {
	if _, err := s.FindFacilityByID(ctx, facilityID); err != nil {
		return nil, err
	}
	rows, err := s.db.WithContext(ctx).Raw(`SELECT id, facility_id, posture, effective_at, reason, recorded_at, recorded_by
		FROM postures WHERE facility_id = ? ORDER BY effective_at, id`, facilityID).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []domain.PostureChange{}
	for rows.Next() {
		var c domain.PostureChange
		var posture string
		if err := rows.Scan(&c.ID, &c.FacilityID, &posture, &c.EffectiveAt, &c.Reason, &c.RecordedAt, &c.RecordedBy); err != nil {
			return nil, translate(err)
		}
		c.Posture, c.EffectiveAt, c.RecordedAt = domain.Posture(posture), c.EffectiveAt.UTC(), c.RecordedAt.UTC()
		out = append(out, c)
	}
	return out, translate(rows.Err())
}
