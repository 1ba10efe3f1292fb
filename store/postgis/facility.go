package postgis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
)

// postureNow is a facility's posture at the time bound to its one
// parameter: that of the latest posture change recorded in advance whose
// effective_at has come since the facility was last written, else the
// stored one — as store/sqlite reads it, so a change recorded ahead of
// time takes effect at its effective_at on every read, before
// ApplyDuePostures writes it as a new facility version.
const postureNow = `coalesce((SELECT p.posture FROM postures p WHERE p.facility_id = i.id
	AND p.effective_at > i.updated_at AND p.effective_at <= ? ORDER BY p.effective_at DESC, p.id DESC LIMIT 1), i.posture)`

// facilityColumns are read in the order scanFacility expects; they take
// the read time (postureNow's parameter) as their first argument.
const facilityColumns = `i.id, i.lon, i.lat, i.name, i.kind, i.country, i.city, i.alert_radius_m,
	` + postureNow + `, i.created_at, i.updated_at, i.version`

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
	q = spatial(q, f.BBox, f.Near, true)
	q = anyOf(q, "i.kind", f.Kinds)
	if len(f.Postures) > 0 {
		q = q.Where(postureNow+" IN ?", s.now(), f.Postures)
	}
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
	rows, err := q.Select(facilityColumns, s.now()).Order("i.id").Limit(limit + 1).Offset(f.Page.Offset).Rows()
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
	f, err := s.findFacility(s.db.WithContext(ctx), id, "")
	return f, translate(err)
}

// findFacility reads live facility id; lock as in findIncident.
func (s *Store) findFacility(db *gorm.DB, id int64, lock string) (*domain.Facility, error) {
	return findOne(db, scanFacility, domain.Errorf(domain.ENOTFOUND, "facility %d not found", id),
		`SELECT `+facilityColumns+` FROM facilities i WHERE i.id = ? AND i.deleted_at IS NULL `+lock, s.now(), id)
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
		cur, err := s.findFacility(tx, id, "FOR UPDATE")
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
		cur, err := s.findFacility(tx, id, "FOR UPDATE")
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

// postureOrderLock is the key of the transaction advisory lock under which
// posture changes take their ids ("posture!" in ASCII, as a bigint).
const postureOrderLock int64 = 0x706f737475726521

// RecordPosture stores a posture change. One already in effect becomes the
// facility's posture (a new facility version) unless a later change is in
// effect too; one recorded ahead of time takes effect at its effective_at
// (see postureNow and ApplyDuePostures). The incidents it names must
// exist. The facility's row is locked first, so two changes recorded at
// once are applied one after the other.
func (s *Store) RecordPosture(ctx context.Context, c *domain.PostureChange) error {
	c.EffectiveAt = c.EffectiveAt.UTC().Truncate(time.Microsecond)
	if c.IncidentIDs == nil {
		c.IncidentIDs = []int64{}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	err := s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := s.findFacility(tx, c.FacilityID, "FOR UPDATE")
		if err != nil {
			return err
		}
		var p domain.Problems
		for i, id := range c.IncidentIDs {
			var live bool
			if err := store.FirstRow(tx.Raw(`SELECT EXISTS (SELECT 1 FROM incidents WHERE id = ? AND deleted_at IS NULL)`, id).Rows()).Scan(&live); err != nil {
				return err
			}
			if !live {
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
		// Posture ids commit in the order they are taken, so a stream that
		// follows "ids above the last I saw" (PostureChangesAfter) on any
		// replica misses none.
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(?)`, postureOrderLock).Error; err != nil {
			return err
		}
		now := s.now()
		c.RecordedAt, c.RecordedBy = now, domain.PrincipalName(ctx)
		err = store.FirstRow(tx.Raw(`INSERT INTO postures (facility_id, posture, effective_at, reason, recorded_at, recorded_by, incident_ids)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, c.FacilityID, string(c.Posture), c.EffectiveAt, c.Reason,
			c.RecordedAt, c.RecordedBy, string(ids)).Rows()).Scan(&c.ID)
		if err != nil || c.EffectiveAt.After(now) {
			return err // ahead of time: postureNow and ApplyDuePostures take it from here
		}
		var later bool
		err = store.FirstRow(tx.Raw(`SELECT EXISTS (SELECT 1 FROM postures WHERE facility_id = ? AND effective_at > ? AND effective_at <= ?)`,
			c.FacilityID, c.EffectiveAt, now).Rows()).Scan(&later)
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
	if err == nil {
		s.opts.Signal.Notify()
	}
	return err
}

// ApplyDuePostures writes every posture change recorded ahead of time whose
// effective_at has come as a new version of its facility, so history and
// ETags follow what postureNow already shows. It returns how many
// facilities changed; serve calls it every second, on every replica: the
// facility's row lock makes one of them do each.
func (s *Store) ApplyDuePostures(ctx context.Context) (int, error) {
	var due []int64
	err := s.db.WithContext(ctx).Raw(`SELECT DISTINCT p.facility_id FROM postures p JOIN facilities i ON i.id = p.facility_id
		WHERE i.deleted_at IS NULL AND p.effective_at > i.updated_at AND p.effective_at <= ?`, s.now()).Scan(&due).Error
	if err != nil || len(due) == 0 {
		return 0, translate(err)
	}
	changed := 0
	for _, id := range due {
		err := s.transact(ctx, func(tx *gorm.DB) error {
			var stored string
			if err := store.FirstRow(tx.Raw(`SELECT posture FROM facilities WHERE id = ? FOR UPDATE`, id).Rows()).Scan(&stored); err != nil {
				return err
			}
			cur, err := s.findFacility(tx, id, "") // its posture is postureNow's
			if err != nil {
				return err
			}
			if string(cur.Posture) == stored {
				// Only the stored time moves on, so the change is not due again.
				return tx.Exec(`UPDATE facilities SET updated_at = ? WHERE id = ?`, s.now(), id).Error
			}
			before := *cur
			before.Posture = domain.Posture(stored)
			changed++
			return s.updateFacility(ctx, tx, &before, cur)
		})
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// postureColumns are read in the order scanPosture expects.
const postureColumns = `id, facility_id, posture, effective_at, reason, recorded_at, recorded_by, incident_ids`

func scanPosture(rows interface{ Scan(...any) error }) (domain.PostureChange, error) {
	var c domain.PostureChange
	var posture, ids string
	if err := rows.Scan(&c.ID, &c.FacilityID, &posture, &c.EffectiveAt, &c.Reason, &c.RecordedAt, &c.RecordedBy, &ids); err != nil {
		return c, err
	}
	c.Posture, c.EffectiveAt, c.RecordedAt = domain.Posture(posture), c.EffectiveAt.UTC(), c.RecordedAt.UTC()
	if err := json.Unmarshal([]byte(ids), &c.IncidentIDs); err != nil {
		return c, fmt.Errorf("posture change %d: decode incident_ids: %w", c.ID, err)
	}
	if c.IncidentIDs == nil {
		c.IncidentIDs = []int64{}
	}
	return c, nil
}

// queryPostures reads the posture changes a query selects.
func queryPostures(db *gorm.DB, query string, args ...any) ([]domain.PostureChange, error) {
	rows, err := db.Raw(`SELECT `+postureColumns+` FROM postures `+query, args...).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []domain.PostureChange{}
	for rows.Next() {
		c, err := scanPosture(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, c)
	}
	return out, translate(rows.Err())
}

// FindPostures lists a facility's posture changes by effective time.
func (s *Store) FindPostures(ctx context.Context, facilityID int64) ([]domain.PostureChange, error) {
	if _, err := s.FindFacilityByID(ctx, facilityID); err != nil {
		return nil, err
	}
	return queryPostures(s.db.WithContext(ctx), `WHERE facility_id = ? ORDER BY effective_at, id`, facilityID)
}

// PostureChangesAfter returns up to limit posture changes with ids above
// id, in id order, for the alert stream's posture events.
func (s *Store) PostureChangesAfter(ctx context.Context, id int64, limit int) ([]domain.PostureChange, error) {
	return queryPostures(s.db.WithContext(ctx), `WHERE id > ? ORDER BY id LIMIT ?`, id, limit)
}

// LastPostureID is the highest posture change id stored, 0 if none.
func (s *Store) LastPostureID(ctx context.Context) (int64, error) {
	var id int64
	err := store.FirstRow(s.db.WithContext(ctx).Raw(`SELECT coalesce(max(id), 0) FROM postures`).Rows()).Scan(&id)
	return id, translate(err)
}
