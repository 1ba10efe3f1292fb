package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// incidentRow is an incident as stored. Lists and free-form fields that
// are never filtered on in SQL live in the extra JSON column; actors are
// also kept in incident_actors, which actor= filters use.
type incidentRow struct {
	ID                int64 `gorm:"primaryKey"`
	Lon, Lat          float64
	Type              string
	Title             string
	Description       string
	OccurredAt        int64
	TimePrecision     string
	LocationPrecision string
	Severity          int
	Status            string
	Country           string
	FacilityID        *int64
	Killed, Injured   int
	ExternalID        *string
	Extra             string
	CreatedAt         int64 `gorm:"autoCreateTime:false"`
	UpdatedAt         int64 `gorm:"autoUpdateTime:false"`
	Version           int
	DeletedAt         *int64
}

func (incidentRow) TableName() string { return "incidents" }

type incidentActorRow struct {
	IncidentID int64
	ActorID    string
	Role       string
}

func (incidentActorRow) TableName() string { return "incident_actors" }

func newIncidentRow(inc *domain.Incident) (*incidentRow, error) {
	extra, err := store.EncodeExtra(inc)
	if err != nil {
		return nil, err
	}
	return &incidentRow{
		ID: inc.ID, Lon: inc.Location[0], Lat: inc.Location[1],
		Type: string(inc.Type), Title: inc.Title, Description: inc.Description,
		OccurredAt: micros(inc.OccurredAt), TimePrecision: string(inc.TimePrecision),
		LocationPrecision: string(inc.LocationPrecision), Severity: inc.Severity,
		Status: string(inc.Status), Country: inc.Country, FacilityID: inc.FacilityID,
		Killed: inc.Casualties.Killed, Injured: inc.Casualties.Injured, ExternalID: inc.ExternalID,
		Extra: extra, CreatedAt: micros(inc.CreatedAt), UpdatedAt: micros(inc.UpdatedAt),
		Version: inc.Version,
	}, nil
}

func (r *incidentRow) incident() (domain.Incident, error) {
	extra, err := store.DecodeExtra(r.Extra)
	if err != nil {
		return domain.Incident{}, fmt.Errorf("incident %d: decode extra: %w", r.ID, err)
	}
	inc := domain.Incident{
		ID: r.ID, Location: [2]float64{r.Lon, r.Lat},
		Type: domain.IncidentType(r.Type), Title: r.Title, Description: r.Description,
		OccurredAt: fromMicros(r.OccurredAt), TimePrecision: domain.TimePrecision(r.TimePrecision),
		LocationPrecision: domain.LocationPrecision(r.LocationPrecision), Severity: r.Severity,
		Status: domain.IncidentStatus(r.Status), Country: r.Country, FacilityID: r.FacilityID,
		Actors: extra.Actors, Casualties: domain.Casualties{Killed: r.Killed, Injured: r.Injured},
		Sources: extra.Sources, Tags: extra.Tags, ExternalID: r.ExternalID, Original: extra.Original,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt), Version: r.Version,
	}
	inc.ApplyDefaults()
	return inc, nil
}

// incidentColumns are read in the order scanIncident expects. The five
// short enumerated columns travel as one text joined by U+001F (which
// validation keeps out of them): the driver allocates twice per text
// column, and rows are what a page spends its allocations on.
const incidentColumns = `i.id, i.lon, i.lat,
	i.type || char(31) || i.time_precision || char(31) || i.location_precision || char(31) || i.status || char(31) || i.country,
	i.title, i.description, i.occurred_at, i.severity, i.facility_id,
	i.killed, i.injured, i.external_id, i.extra, i.created_at, i.updated_at, i.version`

// incidentScanner scans rows of incidentColumns into one reused row, so a
// page of rows does not allocate a row and a destination list per row.
type incidentScanner struct {
	row   incidentRow
	enums string
	dest  []any
}

func newIncidentScanner() *incidentScanner {
	sc := &incidentScanner{}
	r := &sc.row
	sc.dest = []any{&r.ID, &r.Lon, &r.Lat, &sc.enums, &r.Title, &r.Description, &r.OccurredAt,
		&r.Severity, &r.FacilityID, &r.Killed, &r.Injured, &r.ExternalID, &r.Extra, &r.CreatedAt, &r.UpdatedAt, &r.Version}
	return sc
}

// scan reads the next row; the result is valid until the next call.
func (sc *incidentScanner) scan(rows interface{ Scan(...any) error }) (*incidentRow, error) {
	r := &sc.row
	if err := rows.Scan(sc.dest...); err != nil {
		return nil, err
	}
	enums := sc.enums
	fields := [5]*string{&r.Type, &r.TimePrecision, &r.LocationPrecision, &r.Status, &r.Country}
	for i, f := range fields {
		v, rest, found := strings.Cut(enums, "\x1f")
		if found != (i < len(fields)-1) {
			return nil, fmt.Errorf("incident %d: packed enumerations %q", r.ID, sc.enums)
		}
		*f, enums = v, rest
	}
	return r, nil
}

// scanIncidents decodes up to n rows of incidentColumns.
func scanIncidents(rows *sql.Rows, n int) ([]*domain.Incident, error) {
	sc := newIncidentScanner()
	out := make([]*domain.Incident, 0, min(n, 1024))
	for len(out) < n && rows.Next() {
		r, err := sc.scan(rows)
		if err != nil {
			return nil, err
		}
		inc, err := r.incident()
		if err != nil {
			return nil, err
		}
		out = append(out, &inc)
	}
	return out, rows.Err()
}

// scanIncident reads one row into r.
func scanIncident(rows interface{ Scan(...any) error }, r *incidentRow) error {
	got, err := newIncidentScanner().scan(rows)
	if err != nil {
		return err
	}
	*r = *got
	return nil
}

// FindIncidentByID returns ENOTFOUND if no live incident has id.
func (s *Store) FindIncidentByID(ctx context.Context, id int64) (*domain.Incident, error) {
	return s.findIncident(ctx, s.read, id)
}

func (s *Store) findIncident(ctx context.Context, db *gorm.DB, id int64) (*domain.Incident, error) {
	var r incidentRow
	row := store.FirstRow(db.WithContext(ctx).Raw(`SELECT `+incidentColumns+` FROM incidents i WHERE i.id = ? AND i.deleted_at IS NULL`, id).Rows())
	if err := scanIncident(row, &r); err != nil {
		if err == sql.ErrNoRows {
			return nil, domain.Errorf(domain.ENOTFOUND, "incident %d not found", id)
		}
		return nil, err
	}
	inc, err := r.incident()
	return &inc, err
}

// CreateIncident validates and stores inc with its first history version.
func (s *Store) CreateIncident(ctx context.Context, inc *domain.Incident) error {
	inc.ApplyDefaults()
	if err := inc.Validate(); err != nil {
		return err
	}
	var alerts *store.AlertWriter
	err := translate(s.transact(ctx, func(tx *gorm.DB) error {
		alerts = s.WriteAlerts(tx)
		if err := s.createIncident(ctx, tx, inc); err != nil {
			return err
		}
		if err := alerts.Write(ctx, nil, inc); err != nil {
			return err
		}
		dups, err := s.possibleDuplicates(ctx, tx, inc)
		if err != nil {
			return err
		}
		inc.PossibleDuplicates = dups
		return indexText(tx, []int64{inc.ID})
	}))
	if err == nil {
		s.AlertsCommitted(alerts)
	}
	return err
}

func (s *Store) createIncident(ctx context.Context, tx *gorm.DB, inc *domain.Incident) error {
	if err := checkIncidentRefs(ctx, tx, inc, nil); err != nil {
		return err
	}
	return s.insertIncident(ctx, tx, inc)
}

// insertIncident writes a checked incident, its actors and first version.
func (s *Store) insertIncident(ctx context.Context, tx *gorm.DB, inc *domain.Incident) error {
	now := s.now()
	inc.CreatedAt, inc.UpdatedAt, inc.Version = now, now, 1
	row, err := newIncidentRow(inc)
	if err != nil {
		return err
	}
	// A plain INSERT through the transaction's connection: GORM's Create
	// and RETURNING both cost more than the write itself on the import path.
	res, err := tx.Statement.ConnPool.ExecContext(ctx, `INSERT INTO incidents (lon, lat, type, title, description,
		occurred_at, time_precision, location_precision, severity, status, country, facility_id, killed, injured,
		external_id, extra, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		row.Lon, row.Lat, row.Type, row.Title, row.Description, row.OccurredAt, row.TimePrecision,
		row.LocationPrecision, row.Severity, row.Status, row.Country, row.FacilityID, row.Killed, row.Injured,
		row.ExternalID, row.Extra, row.CreatedAt, row.UpdatedAt, row.Version)
	if err != nil {
		return err
	}
	if inc.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	if err := writeIncidentActors(ctx, tx, inc.ID, inc.Actors); err != nil {
		return err
	}
	return appendHistory(ctx, tx, store.CollIncidents, strconv.FormatInt(inc.ID, 10), 1, store.OpCreate, now, domain.PrincipalName(ctx), inc)
}

// ReplaceIncident overwrites a live incident, checking ifVersion when set.
func (s *Store) ReplaceIncident(ctx context.Context, id int64, inc *domain.Incident, ifVersion int) error {
	inc.ApplyDefaults()
	if err := inc.Validate(); err != nil {
		return err
	}
	var alerts *store.AlertWriter
	err := translate(s.transact(ctx, func(tx *gorm.DB) error {
		alerts = s.WriteAlerts(tx)
		_, err := s.replaceIncident(ctx, tx, id, inc, ifVersion, alerts)
		return err
	}))
	if err == nil {
		s.AlertsCommitted(alerts)
	}
	return err
}

// replaceIncident writes inc over incident id, keeps its text indexed and
// raises the alerts the change causes through alerts. changed is false
// when inc says what the incident already does (domain.SameIncident), or,
// in a source import, carries the source values it holds
// (domain.SourceUnchanged): nothing is written, no version made and
// nothing alerts.
func (s *Store) replaceIncident(ctx context.Context, tx *gorm.DB, id int64, inc *domain.Incident, ifVersion int, alerts *store.AlertWriter) (changed bool, err error) {
	cur, err := s.findIncident(ctx, tx, id)
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
	// The checks come before any write: the import rejects a record that
	// fails them and goes on in the same transaction.
	if err := checkIncidentRefs(ctx, tx, inc, cur); err != nil {
		return false, err
	}
	if cur.Title != inc.Title || cur.Description != inc.Description {
		if err := unindexText(tx, cur); err != nil {
			return false, err
		}
		defer func() {
			if err == nil {
				err = indexText(tx, []int64{id})
			}
		}()
	}
	inc.ID, inc.CreatedAt, inc.UpdatedAt, inc.Version = id, cur.CreatedAt, s.now(), cur.Version+1
	row, err := newIncidentRow(inc)
	if err != nil {
		return false, err
	}
	err = tx.Model(&incidentRow{}).Where("id = ?", id).Select("*").Omit("id", "deleted_at").Updates(row).Error
	if err != nil {
		return false, err
	}
	if err := tx.Where("incident_id = ?", id).Delete(&incidentActorRow{}).Error; err != nil {
		return false, err
	}
	if err := writeIncidentActors(ctx, tx, id, inc.Actors); err != nil {
		return false, err
	}
	if err := alerts.Write(ctx, cur, inc); err != nil {
		return false, err
	}
	return true, appendHistory(ctx, tx, store.CollIncidents, strconv.FormatInt(id, 10), inc.Version, store.OpUpdate, inc.UpdatedAt, domain.PrincipalName(ctx), inc)
}

// DeleteIncident removes a live incident from every listing; its history,
// with a final delete version, stays readable.
func (s *Store) DeleteIncident(ctx context.Context, id int64, ifVersion int) error {
	return translate(s.transact(ctx, func(tx *gorm.DB) error {
		cur, err := s.findIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := store.CheckVersion(ifVersion, cur.Version); err != nil {
			return err
		}
		return s.softDelete(ctx, tx, &incidentRow{}, store.CollIncidents, id, strconv.FormatInt(id, 10), &cur.Version, &cur.UpdatedAt, cur)
	}))
}

// IncidentHistory returns every version of an incident, oldest first.
func (s *Store) IncidentHistory(ctx context.Context, id int64) ([]domain.Version[domain.Incident], error) {
	return readHistory[domain.Incident](ctx, s.read, store.CollIncidents, strconv.FormatInt(id, 10))
}

// indexText adds incidents to the full-text index in one statement.
func indexText(tx *gorm.DB, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO incidents_fts (rowid, title, description)
		SELECT id, `+foldSQL("title")+`, `+foldSQL("description")+` FROM incidents WHERE id IN (SELECT value FROM json_each(?))`, string(list)).Error
}

// indexTextRange adds the incidents with ids from..to to the full-text
// index in one statement: an import's created incidents have consecutive ids.
func indexTextRange(tx *gorm.DB, from, to int64) error {
	return tx.Exec(`INSERT INTO incidents_fts (rowid, title, description)
		SELECT id, `+foldSQL("title")+`, `+foldSQL("description")+` FROM incidents WHERE id BETWEEN ? AND ?`, from, to).Error
}

// unindexText removes an incident's current text from the full-text index;
// an external-content FTS5 table must be told the values it indexed.
func unindexText(tx *gorm.DB, old *domain.Incident) error {
	return tx.Exec(`INSERT INTO incidents_fts (incidents_fts, rowid, title, description) VALUES ('delete', ?, ?, ?)`,
		old.ID, domain.FoldText(old.Title), domain.FoldText(old.Description)).Error
}

// foldSQL is column through domain.FoldText (pw_fold), called only for text
// that holds a byte outside ASCII: ASCII text folds to itself as far as
// unicode61 can tell (it lower-cases), and a Go call per row would cost a
// million-row import seconds. Text is ASCII when it has as many characters
// as bytes; counting both is a plain loop, where the GLOB this replaced
// retried its pattern at every character (about 5 % of an import's writer).
func foldSQL(column string) string {
	return "CASE WHEN length(" + column + ") = octet_length(" + column + ") THEN " + column + " ELSE pw_fold(" + column + ") END"
}

func writeIncidentActors(ctx context.Context, tx *gorm.DB, id int64, actors []domain.IncidentActor) error {
	if len(actors) == 0 {
		return nil
	}
	for _, a := range actors {
		if err := exec(ctx, tx, `INSERT INTO incident_actors (incident_id, actor_id, role) VALUES (?, ?, ?)`, id, a.ActorID, string(a.Role)); err != nil {
			return err
		}
	}
	return nil
}

// checkIncidentRefs reports references to missing facilities or actors and
// an external_id another incident holds, each by field. Only references the
// write adds to cur (nil on create) must exist: an incident whose facility
// or actor was deleted since stays editable.
func checkIncidentRefs(ctx context.Context, tx *gorm.DB, inc *domain.Incident, cur *domain.Incident) error {
	var p domain.Problems
	var selfID int64
	if cur != nil {
		selfID = cur.ID
	}
	if inc.FacilityID != nil && (cur == nil || cur.FacilityID == nil || *cur.FacilityID != *inc.FacilityID) {
		var n int64
		if err := queryRow(ctx, tx, `SELECT count(*) FROM facilities WHERE id = ? AND deleted_at IS NULL`, *inc.FacilityID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			p.Add("properties.facility_id", "facility %d does not exist", *inc.FacilityID)
		}
	}
	for i, a := range inc.Actors {
		if cur != nil && slices.ContainsFunc(cur.Actors, func(c domain.IncidentActor) bool { return c.ActorID == a.ActorID }) {
			continue
		}
		var n int64
		if err := queryRow(ctx, tx, `SELECT count(*) FROM actors WHERE id = ? AND deleted_at IS NULL`, a.ActorID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			p.Add(fmt.Sprintf("properties.actors[%d].actor_id", i), "actor %q does not exist", a.ActorID)
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	if inc.ExternalID != nil {
		var other int64
		err := queryRow(ctx, tx, `SELECT coalesce(max(id), 0) FROM incidents WHERE external_id = ? AND id != ?`, *inc.ExternalID, selfID).Scan(&other)
		if err != nil {
			return err
		}
		if other != 0 {
			return store.ExternalIDTaken(*inc.ExternalID, other)
		}
	}
	return nil
}
