package postgis

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// incidentColumns are read in the order scanIncident expects.
const incidentColumns = `i.id, i.lon, i.lat, i.type, i.title, i.description, i.occurred_at, i.time_precision,
	i.location_precision, i.severity, i.status, i.country, i.facility_id, i.killed, i.injured, i.external_id,
	i.extra, i.created_at, i.updated_at, i.version`

// scanIncident reads one row of incidentColumns, after the columns lead
// scans into when the row starts with others.
func scanIncident(rows interface{ Scan(...any) error }, lead ...any) (*domain.Incident, error) {
	var inc domain.Incident
	var typ, timePrec, locPrec, status, extra string
	err := rows.Scan(append(lead, &inc.ID, &inc.Location[0], &inc.Location[1], &typ, &inc.Title, &inc.Description, &inc.OccurredAt,
		&timePrec, &locPrec, &inc.Severity, &status, &inc.Country, &inc.FacilityID, &inc.Casualties.Killed,
		&inc.Casualties.Injured, &inc.ExternalID, &extra, &inc.CreatedAt, &inc.UpdatedAt, &inc.Version)...)
	if err != nil {
		return nil, err
	}
	x, err := store.DecodeExtra(extra)
	if err != nil {
		return nil, fmt.Errorf("incident %d: decode extra: %w", inc.ID, err)
	}
	inc.Type, inc.TimePrecision, inc.LocationPrecision = domain.IncidentType(typ), domain.TimePrecision(timePrec), domain.LocationPrecision(locPrec)
	inc.Status = domain.IncidentStatus(status)
	inc.OccurredAt, inc.CreatedAt, inc.UpdatedAt = inc.OccurredAt.UTC(), inc.CreatedAt.UTC(), inc.UpdatedAt.UTC()
	inc.Actors, inc.Sources, inc.Tags, inc.Original = x.Actors, x.Sources, x.Tags, x.Original
	inc.ApplyDefaults()
	return &inc, nil
}

// queryIncidents runs a query selecting incidentColumns and decodes up to
// n rows.
func queryIncidents(db *gorm.DB, n int, q string, args ...any) ([]*domain.Incident, error) {
	rows, err := db.Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]*domain.Incident, 0, min(n, 1024))
	for len(out) < n && rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

// incidentByIDSQL reads one live incident by id.
const incidentByIDSQL = `SELECT ` + incidentColumns + ` FROM incidents i WHERE i.id = $1 AND i.deleted_at IS NULL`

// FindIncidentByID returns ENOTFOUND if no live incident has id. It is the
// hottest read (a map's clicks, every GET of an item). Once the grid is
// built it answers whether the incident is live, and the cache holds the
// incident if it was read lately: the only statement is then the freshness
// check, which concurrent queries share (grid.Follower.Current); a miss is
// read as a page's rows are (readIncidents). Until the grid is built the
// row is read by a named statement, whose plan (the primary key) is the
// same for every id, so PostgreSQL may keep it instead of planning each call.
func (s *Store) FindIncidentByID(ctx context.Context, id int64) (*domain.Incident, error) {
	g, err := s.currentGrid(ctx)
	if err != nil {
		return nil, err
	}
	if g != nil {
		g.RLock()
		version, live := g.Version(), g.Has(id)
		g.RUnlock()
		var incs []*domain.Incident
		if live {
			if incs, err = s.grid.Cache().Incidents(ctx, g, version, []int64{id}, s.readIncidents); err != nil {
				return nil, translate(err)
			}
		}
		// Empty also when deleted after the check: the read found no row.
		if len(incs) == 0 {
			return nil, domain.Errorf(domain.ENOTFOUND, "incident %d not found", id)
		}
		return incs[0], nil
	}
	var inc *domain.Incident
	err = s.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, incidentByIDSQL, keptPlan(s.named, id)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return domain.Errorf(domain.ENOTFOUND, "incident %d not found", id)
		}
		if inc, err = scanIncident(rows); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	})
	return inc, translate(err)
}

// findIncident reads live incident id; lock "FOR UPDATE" holds its row to
// the end of the transaction, so a concurrent write waits and then sees
// this one's version.
func findIncident(db *gorm.DB, id int64, lock string) (*domain.Incident, error) {
	incs, err := queryIncidents(db, 1, `SELECT `+incidentColumns+` FROM incidents i WHERE i.id = ? AND i.deleted_at IS NULL `+lock, id)
	if err != nil {
		return nil, err
	}
	if len(incs) == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "incident %d not found", id)
	}
	return incs[0], nil
}

// CreateIncident validates and stores inc with its first history version.
func (s *Store) CreateIncident(ctx context.Context, inc *domain.Incident) error {
	inc.ApplyDefaults()
	if err := inc.Validate(); err != nil {
		return err
	}
	return s.writeWithAlerts(ctx, func(tx *gorm.DB, alerts *store.AlertWriter) error {
		if err := checkIncidentRefs(tx, inc, nil); err != nil {
			return err
		}
		if err := s.insertIncident(ctx, tx, inc); err != nil {
			return err
		}
		if err := alerts.Write(ctx, nil, inc); err != nil {
			return err
		}
		dups, err := possibleDuplicates(tx, inc)
		inc.PossibleDuplicates = dups
		return err
	})
}

// writeWithAlerts runs fn in one transaction with the writer of the alerts
// its incident writes raise, and wakes this process's alert streams once
// it has committed.
func (s *Store) writeWithAlerts(ctx context.Context, fn func(tx *gorm.DB, alerts *store.AlertWriter) error) error {
	var alerts *store.AlertWriter
	err := s.transact(ctx, func(tx *gorm.DB) error {
		alerts = s.WriteAlerts(tx)
		return fn(tx, alerts)
	})
	if err == nil {
		s.AlertsCommitted(alerts)
	}
	return err
}

// searchWords is the text the search column indexes, its lexemes joined
// by spaces (array_to_tsvector(string_to_array(…)) makes the tsvector).
func searchWords(inc *domain.Incident) string {
	return strings.Join(store.SearchLexemes(inc.Title+" "+inc.Description), " ")
}

// insertIncident writes a checked incident, its actors and first version;
// the identity sequence gives the id, so concurrent writers never clash.
func (s *Store) insertIncident(ctx context.Context, tx *gorm.DB, inc *domain.Incident) error {
	now := s.now()
	inc.CreatedAt, inc.UpdatedAt, inc.Version = now, now, 1
	extra, err := store.EncodeExtra(inc)
	if err != nil {
		return err
	}
	err = store.FirstRow(tx.Raw(`INSERT INTO incidents (lon, lat, type, title, description, occurred_at, time_precision,
		location_precision, severity, status, country, facility_id, killed, injured, external_id, extra, search,
		created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, array_to_tsvector(string_to_array(?, ' ')), ?, ?, ?) RETURNING id`,
		inc.Location[0], inc.Location[1], string(inc.Type), inc.Title, inc.Description, ts(inc.OccurredAt),
		string(inc.TimePrecision), string(inc.LocationPrecision), inc.Severity, string(inc.Status), inc.Country,
		inc.FacilityID, inc.Casualties.Killed, inc.Casualties.Injured, inc.ExternalID, extra, searchWords(inc),
		now, now, 1).Rows()).Scan(&inc.ID)
	if err != nil {
		return err
	}
	if err := writeIncidentActors(tx, inc.ID, inc.Actors); err != nil {
		return err
	}
	return appendHistory(tx, store.CollIncidents, strconv.FormatInt(inc.ID, 10), 1, store.OpCreate, now, domain.PrincipalName(ctx), inc)
}

// ReplaceIncident overwrites a live incident, checking ifVersion when set.
func (s *Store) ReplaceIncident(ctx context.Context, id int64, inc *domain.Incident, ifVersion int) error {
	inc.ApplyDefaults()
	if err := inc.Validate(); err != nil {
		return err
	}
	return s.writeWithAlerts(ctx, func(tx *gorm.DB, alerts *store.AlertWriter) error {
		_, err := s.replaceIncident(ctx, tx, id, inc, ifVersion, alerts)
		return err
	})
}

// replaceIncident writes inc over incident id, holding its row from the
// version check to the commit: of two writers with the same If-Match, one
// wins and the other gets EPRECONDITION. It raises the alerts the change
// causes through alerts. changed is false when inc says what the incident
// already does (domain.SameIncident), or, in a source import, carries the
// source values it holds (domain.SourceUnchanged): nothing is written, no
// version made and nothing alerts.
func (s *Store) replaceIncident(ctx context.Context, tx *gorm.DB, id int64, inc *domain.Incident, ifVersion int, alerts *store.AlertWriter) (changed bool, err error) {
	cur, err := findIncident(tx, id, "FOR UPDATE")
	if err != nil {
		return false, err
	}
	if err := store.CheckVersion(ifVersion, cur.Version); err != nil {
		return false, err
	}
	inc.ID, inc.CreatedAt, inc.UpdatedAt, inc.Version = id, cur.CreatedAt, cur.UpdatedAt, cur.Version
	if domain.SameIncident(cur, inc) || domain.SourceUnchanged(ctx, cur, inc) {
		return false, nil
	}
	if err := checkIncidentRefs(tx, inc, cur); err != nil {
		return false, err
	}
	inc.UpdatedAt, inc.Version = s.now(), cur.Version+1
	extra, err := store.EncodeExtra(inc)
	if err != nil {
		return false, err
	}
	err = tx.Exec(`UPDATE incidents SET lon = ?, lat = ?, type = ?, title = ?, description = ?, occurred_at = ?,
		time_precision = ?, location_precision = ?, severity = ?, status = ?, country = ?, facility_id = ?,
		killed = ?, injured = ?, external_id = ?, extra = ?, search = array_to_tsvector(string_to_array(?, ' ')),
		updated_at = ?, version = ? WHERE id = ?`,
		inc.Location[0], inc.Location[1], string(inc.Type), inc.Title, inc.Description, ts(inc.OccurredAt),
		string(inc.TimePrecision), string(inc.LocationPrecision), inc.Severity, string(inc.Status), inc.Country,
		inc.FacilityID, inc.Casualties.Killed, inc.Casualties.Injured, inc.ExternalID, extra, searchWords(inc),
		inc.UpdatedAt, inc.Version, id).Error
	if err != nil {
		return false, err
	}
	if err := tx.Exec(`DELETE FROM incident_actors WHERE incident_id = ?`, id).Error; err != nil {
		return false, err
	}
	if err := writeIncidentActors(tx, id, inc.Actors); err != nil {
		return false, err
	}
	if err := alerts.Write(ctx, cur, inc); err != nil {
		return false, err
	}
	return true, appendHistory(tx, store.CollIncidents, strconv.FormatInt(id, 10), inc.Version, store.OpUpdate, inc.UpdatedAt, domain.PrincipalName(ctx), inc)
}

// DeleteIncident removes a live incident from every listing; its history,
// with a final delete version, stays readable.
func (s *Store) DeleteIncident(ctx context.Context, id int64, ifVersion int) error {
	return s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := findIncident(tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if err := store.CheckVersion(ifVersion, cur.Version); err != nil {
			return err
		}
		return s.softDelete(ctx, tx, "incidents", store.CollIncidents, id, strconv.FormatInt(id, 10), &cur.Version, &cur.UpdatedAt, cur)
	})
}

// IncidentHistory returns every version of an incident, oldest first.
func (s *Store) IncidentHistory(ctx context.Context, id int64) ([]domain.Version[domain.Incident], error) {
	return readHistory[domain.Incident](s.db.WithContext(ctx), store.CollIncidents, strconv.FormatInt(id, 10))
}

func writeIncidentActors(tx *gorm.DB, id int64, actors []domain.IncidentActor) error {
	for _, a := range actors {
		if err := tx.Exec(`INSERT INTO incident_actors (incident_id, actor_id, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			id, a.ActorID, string(a.Role)).Error; err != nil {
			return err
		}
	}
	return nil
}

// checkIncidentRefs reports references to missing facilities or actors and
// an external_id another incident holds, each by field. Only references the
// write adds to cur (nil on create) must exist. The rows referred to are
// share-locked to the commit, so a concurrent delete of one waits.
func checkIncidentRefs(tx *gorm.DB, inc *domain.Incident, cur *domain.Incident) error {
	var p domain.Problems
	var selfID int64
	if cur != nil {
		selfID = cur.ID
	}
	exists := func(q string, arg any) (bool, error) {
		var n int
		err := store.FirstRow(tx.Raw(q, arg).Rows()).Scan(&n)
		if err == sql.ErrNoRows {
			return false, nil
		}
		return err == nil, err
	}
	if inc.FacilityID != nil && (cur == nil || cur.FacilityID == nil || *cur.FacilityID != *inc.FacilityID) {
		ok, err := exists(`SELECT 1 FROM facilities WHERE id = ? AND deleted_at IS NULL FOR SHARE`, *inc.FacilityID)
		if err != nil {
			return err
		}
		if !ok {
			p.Add("properties.facility_id", "facility %d does not exist", *inc.FacilityID)
		}
	}
	for i, a := range inc.Actors {
		if cur != nil && slices.ContainsFunc(cur.Actors, func(c domain.IncidentActor) bool { return c.ActorID == a.ActorID }) {
			continue
		}
		ok, err := exists(`SELECT 1 FROM actors WHERE id = ? AND deleted_at IS NULL FOR SHARE`, a.ActorID)
		if err != nil {
			return err
		}
		if !ok {
			p.Add(fmt.Sprintf("properties.actors[%d].actor_id", i), "actor %q does not exist", a.ActorID)
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	if inc.ExternalID == nil {
		return nil
	}
	var other int64
	switch err := store.FirstRow(tx.Raw(`SELECT id FROM incidents WHERE external_id = ? AND id <> ?`, *inc.ExternalID, selfID).Rows()).Scan(&other); err {
	case sql.ErrNoRows:
		return nil
	case nil:
		return store.ExternalIDTaken(*inc.ExternalID, other)
	default:
		return err
	}
}
