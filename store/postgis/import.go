package postgis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// importInsertRows bounds the rows of one multi-row INSERT: 21 parameters a
// row stay well under PostgreSQL's 65535 parameters a statement.
const importInsertRows = 500

// ImportIncidents stores a batch of incidents in one transaction. An
// incident whose external_id a live incident holds replaces it (or, when it
// says the same, is ImportUnchanged); others are created, and the actors
// they name that do not exist are created too, named by actorNames.
//
// Records are validated before the transaction, and the actors, facilities
// and external ids the batch names are read once per batch, so a new
// record is checked before anything of it is written: a rejected one
// leaves nothing behind and needs no savepoint. New records are written
// with multi-row INSERTs into incidents, incident_actors and history.
// A replacement runs under a savepoint, as its checks read the row it
// replaces. A failure other than a rejection rolls the whole batch back.
func (s *Store) ImportIncidents(ctx context.Context, batch []*domain.Incident, actorNames map[string]string) ([]domain.ImportResult, error) {
	results := make([]domain.ImportResult, len(batch))
	for i, inc := range batch {
		inc.ApplyDefaults()
		if err := inc.Validate(); err != nil {
			results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: err}
		}
	}
	err := s.writeWithAlerts(ctx, func(tx *gorm.DB, alerts *store.AlertWriter) error {
		w := &importWriter{s: s, ctx: ctx, tx: tx, alerts: alerts, names: actorNames, results: results}
		if err := w.lookup(batch); err != nil {
			return err
		}
		for i, inc := range batch {
			if results[i].Outcome == domain.ImportRejected {
				continue
			}
			if err := w.add(i, inc); err != nil {
				return fmt.Errorf("import record %d: %w", i, err)
			}
		}
		return w.flush()
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// importWriter holds what one import transaction knows of the database and
// the new records it has not written yet.
type importWriter struct {
	s       *Store
	ctx     context.Context
	tx      *gorm.DB
	alerts  *store.AlertWriter
	names   map[string]string
	results []domain.ImportResult

	actorDeleted map[string]bool      // actors that exist, whether deleted
	facilities   map[int64]bool       // live facilities
	external     map[string]extHolder // incidents holding an external id
	pending      []int                // indexes of new records not yet written
	batch        []*domain.Incident
}

type extHolder struct {
	id      int64
	live    bool
	pending bool // a new record of this batch not yet written
}

// lookup reads the actors, facilities and external ids the batch names,
// share-locking the actors and facilities to the commit as
// checkIncidentRefs does.
func (w *importWriter) lookup(batch []*domain.Incident) error {
	w.batch = batch
	w.actorDeleted = map[string]bool{}
	w.facilities = map[int64]bool{}
	w.external = map[string]extHolder{}
	var actorIDs, extIDs []string
	var facilityIDs []int64
	for i, inc := range batch {
		if w.results[i].Outcome == domain.ImportRejected {
			continue
		}
		for _, a := range inc.Actors {
			actorIDs = append(actorIDs, a.ActorID)
		}
		if inc.FacilityID != nil {
			facilityIDs = append(facilityIDs, *inc.FacilityID)
		}
		if inc.ExternalID != nil {
			extIDs = append(extIDs, *inc.ExternalID)
		}
	}
	if len(actorIDs) > 0 {
		rows, err := w.tx.Raw(`SELECT id, deleted_at IS NOT NULL FROM actors WHERE id IN ? FOR SHARE`, actorIDs).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var deleted bool
			if err := rows.Scan(&id, &deleted); err != nil {
				return err
			}
			w.actorDeleted[id] = deleted
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	if len(facilityIDs) > 0 {
		rows, err := w.tx.Raw(`SELECT id FROM facilities WHERE id IN ? AND deleted_at IS NULL FOR SHARE`, facilityIDs).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			w.facilities[id] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	if len(extIDs) > 0 {
		rows, err := w.tx.Raw(`SELECT external_id, id, deleted_at IS NULL FROM incidents WHERE external_id IN ?`, extIDs).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ext string
			var h extHolder
			if err := rows.Scan(&ext, &h.id, &h.live); err != nil {
				return err
			}
			w.external[ext] = h
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}

// add takes validated record i: a new one is checked against what lookup
// read and queued for flush, and one whose external_id a live incident
// holds replaces it.
func (w *importWriter) add(i int, inc *domain.Incident) error {
	var p domain.Problems
	for j, a := range inc.Actors {
		if w.actorDeleted[a.ActorID] {
			p.Add(fmt.Sprintf("properties.actors[%d].actor_id", j), "actor %q was deleted", a.ActorID)
		}
	}
	if err := p.Err(); err != nil {
		w.results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: err}
		return nil
	}
	if inc.ExternalID != nil {
		h, ok := w.external[*inc.ExternalID]
		if ok && h.pending {
			// The batch created it a few records ago: write that first,
			// so this one updates it.
			if err := w.flush(); err != nil {
				return err
			}
			h = w.external[*inc.ExternalID]
		}
		switch {
		case ok && h.live:
			return w.replace(i, h.id, inc)
		case ok:
			w.results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: store.ExternalIDOfDeleted(*inc.ExternalID, h.id)}
			return nil
		}
	}
	if inc.FacilityID != nil && !w.facilities[*inc.FacilityID] {
		p.Add("properties.facility_id", "facility %d does not exist", *inc.FacilityID)
		w.results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: p.Err()}
		return nil
	}
	// A record naming an actor that cannot be created is rejected before
	// any of its actors is written.
	actors, err := w.newActors(inc)
	if err != nil {
		w.results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: err}
		return nil
	}
	if err := w.createActors(w.tx, actors); err != nil {
		return err
	}
	w.pending = append(w.pending, i)
	if inc.ExternalID != nil {
		w.external[*inc.ExternalID] = extHolder{live: true, pending: true}
	}
	return nil
}

// newActors returns the actors inc names that do not exist yet, checked,
// under the names the import was given; a domain error rejects inc.
func (w *importWriter) newActors(inc *domain.Incident) ([]*domain.Actor, error) {
	var out []*domain.Actor
	for _, a := range inc.Actors {
		if _, ok := w.actorDeleted[a.ActorID]; ok {
			continue
		}
		actor, err := store.ImportedActor(a.ActorID, w.names)
		if err != nil {
			return nil, err
		}
		out = append(out, actor)
	}
	return out, nil
}

// createActors creates actors (from newActors).
func (w *importWriter) createActors(tx *gorm.DB, actors []*domain.Actor) error {
	for _, actor := range actors {
		// Another importer may create it first: that is no conflict here.
		if err := w.s.createActor(w.ctx, tx, actor); err != nil && domain.ErrorCodeOf(err) != domain.ECONFLICT {
			return err
		}
		w.actorDeleted[actor.ID] = false
	}
	return nil
}

// replace writes record i over live incident id under a savepoint, after
// the new records before it, so alerts keep the order of the records.
func (w *importWriter) replace(i int, id int64, inc *domain.Incident) error {
	if err := w.flush(); err != nil {
		return err
	}
	var changed bool
	var created []string
	// A nested Transaction is a savepoint: replaceIncident's checks read
	// the row it replaces, and its rejection must also undo the actors
	// created for it.
	err := w.tx.Transaction(func(sp *gorm.DB) (err error) {
		for _, a := range inc.Actors {
			if _, ok := w.actorDeleted[a.ActorID]; !ok {
				created = append(created, a.ActorID)
			}
		}
		actors, err := w.newActors(inc)
		if err != nil {
			return err
		}
		if err := w.createActors(sp, actors); err != nil {
			return err
		}
		changed, err = w.s.replaceIncident(w.ctx, sp, id, inc, 0, w.alerts)
		return err
	})
	if err != nil {
		for _, a := range created {
			delete(w.actorDeleted, a)
		}
	}
	err = translate(err)
	switch {
	case domain.ErrorCodeOf(err) == domain.EINVALID || domain.ErrorCodeOf(err) == domain.ECONFLICT:
		w.results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: err}
		return nil
	case err != nil:
		return err
	case changed:
		w.results[i] = domain.ImportResult{Outcome: domain.ImportUpdated, ID: id}
	default:
		w.results[i] = domain.ImportResult{Outcome: domain.ImportUnchanged, ID: id}
	}
	return nil
}

// flush writes the queued new records: ids from the identity sequence,
// then multi-row INSERTs of the incidents, their actors and first
// versions, then their alerts.
func (w *importWriter) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	pending := w.pending
	w.pending = nil
	rows, err := w.tx.Raw(`SELECT nextval(pg_get_serial_sequence('incidents', 'id')) FROM generate_series(1, ?)`, len(pending)).Rows()
	if err != nil {
		return err
	}
	ids := make([]int64, 0, len(pending))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	now := w.s.now()
	by := domain.PrincipalName(w.ctx)
	incs := make([]*domain.Incident, len(pending))
	for k, i := range pending {
		inc := w.batch[i]
		inc.ID, inc.CreatedAt, inc.UpdatedAt, inc.Version = ids[k], now, now, 1
		incs[k] = inc
	}
	written := make(map[int64]bool, len(incs))
	for start := 0; start < len(incs); start += importInsertRows {
		chunk := incs[start:min(start+importInsertRows, len(incs))]
		if err := w.insertChunk(chunk, now, by, written); err != nil {
			return err
		}
	}
	for k, i := range pending {
		inc := incs[k]
		if !written[inc.ID] {
			// Another writer committed its external_id after lookup read
			// them: rejected, as a write holding a taken id is.
			var h extHolder
			err := store.FirstRow(w.tx.Raw(`SELECT id, deleted_at IS NULL FROM incidents WHERE external_id = ?`, *inc.ExternalID).Rows()).Scan(&h.id, &h.live)
			if err != nil {
				return err
			}
			w.external[*inc.ExternalID] = h
			inc.ID = 0
			w.results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: store.ExternalIDTaken(*inc.ExternalID, h.id)}
			continue
		}
		if inc.ExternalID != nil {
			w.external[*inc.ExternalID] = extHolder{id: inc.ID, live: true}
		}
		if err := w.alerts.Write(w.ctx, nil, inc); err != nil {
			return err
		}
		w.results[i] = domain.ImportResult{Outcome: domain.ImportCreated, ID: inc.ID}
	}
	return nil
}

// insertChunk writes incs, their actors and their first versions, three
// statements in all, and adds the ids of those written to written. An
// incident whose external_id another writer committed since lookup is
// skipped (ON CONFLICT waits for that writer, then skips the row), with
// its actors and history.
func (w *importWriter) insertChunk(incs []*domain.Incident, now time.Time, by string, written map[int64]bool) error {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO incidents (id, lon, lat, type, title, description, occurred_at, time_precision,
		location_precision, severity, status, country, facility_id, killed, injured, external_id, extra, search,
		created_at, updated_at, version) VALUES `)
	args := make([]any, 0, len(incs)*21)
	for k, inc := range incs {
		extra, err := store.EncodeExtra(inc)
		if err != nil {
			return err
		}
		if k > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, array_to_tsvector(string_to_array(?, ' ')), ?, ?, ?)")
		args = append(args, inc.ID, inc.Location[0], inc.Location[1], string(inc.Type), inc.Title, inc.Description,
			ts(inc.OccurredAt), string(inc.TimePrecision), string(inc.LocationPrecision), inc.Severity, string(inc.Status),
			inc.Country, inc.FacilityID, inc.Casualties.Killed, inc.Casualties.Injured, inc.ExternalID, extra,
			searchWords(inc), now, now, 1)
	}
	sb.WriteString(` ON CONFLICT (external_id) DO NOTHING RETURNING id`)
	rows, err := w.tx.Raw(sb.String(), args...).Rows()
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		written[id] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	var actorArgs, histArgs []any
	for _, inc := range incs {
		if !written[inc.ID] {
			continue
		}
		for _, a := range inc.Actors {
			actorArgs = append(actorArgs, inc.ID, a.ActorID, string(a.Role))
		}
		snap, err := json.Marshal(inc)
		if err != nil {
			return fmt.Errorf("encode history snapshot: %w", err)
		}
		histArgs = append(histArgs, store.CollIncidents, strconv.FormatInt(inc.ID, 10), 1, store.OpCreate, now, by, string(snap))
	}
	if len(actorArgs) > 0 {
		// An incident naming an actor twice keeps one row, as
		// writeIncidentActors does.
		q := `INSERT INTO incident_actors (incident_id, actor_id, role) VALUES ` +
			placeholders(len(actorArgs)/3, "(?, ?, ?)") + ` ON CONFLICT DO NOTHING`
		if err := w.tx.Exec(q, actorArgs...).Error; err != nil {
			return err
		}
	}
	if len(histArgs) == 0 {
		return nil
	}
	q := `INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot) VALUES ` +
		placeholders(len(histArgs)/7, "(?, ?, ?, ?, ?, ?, ?)")
	return w.tx.Exec(q, histArgs...).Error
}

// placeholders is n copies of row joined by commas.
func placeholders(n int, row string) string {
	return strings.Repeat(row+", ", n-1) + row
}
