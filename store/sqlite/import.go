package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// Bulk import is split so the one writer connection spends its time in
// SQLite. PrepareIncidents does what needs no database — defaults,
// validation, encoding the extra column and most of the history snapshot —
// on whatever goroutine calls it, so a caller prepares the next records on
// another core while the writer stores these. The writer then asks the
// database once per batch about the actors, external ids and facilities
// the batch names, and writes the records it creates with multi-row
// INSERTs into incidents, incident_actors and history, and one statement
// per transaction into the full-text index.

// PreparedIncidents is a batch of incidents checked and encoded for
// ImportStream.
type PreparedIncidents struct {
	incidents []*domain.Incident
	recs      []preparedIncident
	names     map[string]string
}

type preparedIncident struct {
	err   error  // why the record is rejected before the database is asked
	extra string // the extra column
	// snapshot is the middle of the record's history snapshot: the JSON
	// encoding without its id and the server-set fields at the end, which
	// the writer splices in. nil when the encoding does not have that
	// layout; the writer then encodes the snapshot whole.
	snapshot []byte
}

// The JSON encoding of a domain.Incident with a zero id and zero server-set
// fields begins and ends with these.
var (
	snapshotHead = []byte(`{"id":0`)
	snapshotTail = []byte(`,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z","version":0}`)
)

// PrepareIncidents applies defaults to the batch and validates it like an
// API write, and encodes what the writer will store; actorNames names the
// actors the batch creates. It does not touch the database and may run on
// several goroutines at once, each with its own batch.
func PrepareIncidents(batch []*domain.Incident, actorNames map[string]string) *PreparedIncidents {
	p := &PreparedIncidents{incidents: batch, recs: make([]preparedIncident, len(batch)), names: actorNames}
	for i, inc := range batch {
		inc.ApplyDefaults()
		r := &p.recs[i]
		if r.err = inc.Validate(); r.err != nil {
			continue
		}
		extra, err := store.EncodeExtra(inc)
		if err != nil {
			r.err = fmt.Errorf("encode incident: %w", err)
			continue
		}
		r.extra = extra
		// The original values come last before snapshotTail and are
		// appended by store.AppendOriginal, as in the extra column.
		c := *inc
		c.ID, c.CreatedAt, c.UpdatedAt, c.Version, c.Original = 0, time.Time{}, time.Time{}, 0, nil
		if snap, err := json.Marshal(&c); err == nil && bytes.HasPrefix(snap, snapshotHead) && bytes.HasSuffix(snap, snapshotTail) {
			r.snapshot = snap[len(snapshotHead) : len(snap)-len(snapshotTail)]
			if len(inc.Original) > 0 {
				r.snapshot = store.AppendOriginal(append(r.snapshot, `,"original":`...), inc.Original)
			}
		}
	}
	return p
}

// ImportIncidents stores a batch of incidents in one transaction. Each
// record is checked against the database before anything of it is written,
// so a rejected record leaves nothing behind while the rest of the batch
// commits; a failure while writing rolls the whole batch back.
func (s *Store) ImportIncidents(ctx context.Context, batch []*domain.Incident, actorNames map[string]string) ([]domain.ImportResult, error) {
	p := PrepareIncidents(batch, actorNames)
	var results []domain.ImportResult
	var w *importWriter
	err := s.transact(ctx, func(tx *gorm.DB) (err error) {
		w, err = s.newImportWriter(ctx, tx)
		if err != nil {
			return err
		}
		if results, err = w.write(p); err != nil {
			return err
		}
		return w.finish()
	})
	if err != nil {
		return nil, translate(err)
	}
	s.AlertsCommitted(w.alerts)
	return results, nil
}

// ImportStream's transactions: each commits once it holds
// importCommitRows records or has held the write lock for
// importCommitAfter. Every commit writes each page it changed to the WAL,
// and the R*Tree and the occurred_at index take their inserts in random
// order, so a commit of n rows rewrites about n of their pages whatever the
// rows: fewer, larger transactions write less (see docs/performance.md).
var (
	importCommitRows  = 50000
	importCommitAfter = time.Second
)

// DefaultImportCacheMiB is Options.ImportCacheMiB when unset: enough for
// the pages the R*Tree and the occurred_at index of a million incidents
// take (about 110 MiB), which every transaction visits until the import
// leaves both to its end (treeStaleTable).
const DefaultImportCacheMiB = 192

// Sizes of the writer connection while ImportStream runs (importPragmas).
const (
	// importCheckpointPages lets the WAL grow to about 256 MiB between
	// checkpoints, so a page the transactions between them all change is
	// copied to the database once rather than once per transaction.
	importCheckpointPages = 64000
)

// ImportStream stores the prepared batches it receives on in, in order,
// several to a write transaction, until in is closed or ctx is done. done
// gets each batch's results once the transaction holding it has committed,
// so what it reports is visible to every reader; an error return means
// the open transaction rolled back, and its batches were not reported.
//
// A transaction commits once it holds importCommitRows records, after
// importCommitAfter, and when in is closed. A writer in another process,
// such as a server on the same file, waits for the lock that long, or a
// few times that at worst: SQLite's busy handler polls, and may miss the
// moments between two transactions. Commits do not wait for the disk
// (synchronous=NORMAL): a power loss during the import may roll back its
// last transactions, never part of one, and importing the file again
// completes it. The WAL is synced once the last transaction has
// committed, so a nil return means everything is durable.
func (s *Store) ImportStream(ctx context.Context, in <-chan *PreparedIncidents, done func(*PreparedIncidents, []domain.ImportResult)) (err error) {
	// SQLite allocates its page cache on whatever thread calls it, from
	// the C allocator's arena for that thread; a server writing to the same
	// file makes the writer drop and refill its cache, and spread over
	// threads that grew RSS by 100 MB in a 1M import. One thread keeps
	// one arena.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cacheMiB := s.opts.ImportCacheMiB
	if cacheMiB <= 0 {
		cacheMiB = DefaultImportCacheMiB
	}
	pragmas := append([]pragma{{"cache_size", -(cacheMiB << 10)}}, importPragmas...)
	tuned, err := s.tuneWriter(ctx, pragmas)
	if err != nil {
		return err
	}
	// restore sets the settings back once; later calls report nothing.
	restored := false
	restore := func() error {
		if restored {
			return nil
		}
		restored = true
		return tuned()
	}
	var live int64
	if err := s.write.WithContext(ctx).Raw(`SELECT coalesce((SELECT n FROM live_counts WHERE collection = 'incidents'), 0)`).Scan(&live).Error; err != nil {
		return errors.Join(err, restore())
	}
	t := &treeDeferral{after: max(importDeferTreeMin, live/importDeferTreeShare)}
	// The tree and the time index are rebuilt however the import ends,
	// even cancelled: the records it committed are there to stay. The
	// rebuild runs with the connection's own settings: the index's sort
	// then spills to a temporary file past the ordinary page cache's
	// size, where the import's in-memory temp_store would hold it whole.
	rebuild := func() error {
		err := restore()
		if t.deferred {
			t.deferred = false
			err = errors.Join(err, s.rebuildIncidentTree(context.WithoutCancel(ctx)))
		}
		return err
	}
	defer func() { err = errors.Join(err, rebuild()) }()
	for {
		var p *PreparedIncidents
		select {
		case next, ok := <-in:
			if !ok {
				// Every record is in: the rebuild, a few seconds,
				// finishes even when ctx is cancelled meanwhile.
				if err := rebuild(); err != nil {
					return err
				}
				return s.syncWAL()
			}
			p = next
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := s.importTransaction(ctx, p, in, done, t); err != nil {
			return err
		}
	}
}

// An import that has created or updated importDeferTreeMin records, and
// 1/importDeferTreeShare of the live incidents it found, leaves the R*Tree
// to a rebuild at its end (see treeStaleTable): the rebuild costs about
// 2 µs per live incident, an insert through the trigger about 15.
var (
	importDeferTreeMin   int64 = 20000
	importDeferTreeShare int64 = 4
)

// treeDeferral is whether an import has paused the incidents R*Tree, and
// after how many records created or updated it does.
type treeDeferral struct {
	after    int64
	written  int64
	deferred bool
}

type writtenBatch struct {
	p       *PreparedIncidents
	results []domain.ImportResult
}

// importTransaction writes p and the batches that follow it on in in one
// transaction, until a limit of ImportStream's is reached.
func (s *Store) importTransaction(ctx context.Context, p *PreparedIncidents, in <-chan *PreparedIncidents, done func(*PreparedIncidents, []domain.ImportResult), t *treeDeferral) error {
	tx := s.write.WithContext(ctx).Begin()
	if tx.Error != nil {
		return tx.Error
	}
	deferred := t.deferred
	start := time.Now()
	var written []writtenBatch
	var w *importWriter
	err := func() (err error) {
		// The statements do not watch ctx: given a context that can be
		// cancelled, the driver runs each statement on a goroutine of its
		// own, so on another thread. ctx is checked between batches, and
		// database/sql rolls the transaction back when it is cancelled.
		bg := context.WithoutCancel(ctx)
		w, err = s.newImportWriter(bg, tx.WithContext(bg))
		if err != nil {
			return err
		}
		timer := time.NewTimer(importCommitAfter)
		defer timer.Stop()
		for p != nil {
			if !deferred && t.written >= t.after {
				if err := markTreeStale(tx.WithContext(bg), w.now); err != nil {
					return err
				}
				deferred = true
			} else if deferred && len(written) == 0 {
				// Again in each transaction: another process may
				// have rebuilt the tree since the last one, and a
				// server takes a mark not renewed for an abandoned one.
				if err := markTreeStale(tx.WithContext(bg), w.now); err != nil {
					return err
				}
			}
			results, err := w.write(p)
			if err != nil {
				return err
			}
			for _, r := range results {
				if r.Outcome == domain.ImportCreated || r.Outcome == domain.ImportUpdated {
					t.written++
				}
			}
			written = append(written, writtenBatch{p, results})
			p.release()
			if w.rows >= importCommitRows || time.Since(start) >= importCommitAfter {
				break
			}
			select {
			case p = <-in: // nil once in is closed
			case <-timer.C:
				p = nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := w.finish(); err != nil {
			return err
		}
		return tx.Commit().Error
	}()
	if err != nil {
		tx.Rollback()
		// A cancellation that lands during a statement makes database/sql
		// roll the transaction back under it, and the statement fails
		// with sql.ErrTxDone: the cause is still the cancellation.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return translate(err)
	}
	t.deferred = deferred
	s.AlertsCommitted(w.alerts)
	for _, b := range written {
		done(b.p, b.results)
	}
	return nil
}

// release drops the records of a written batch, so that a transaction of
// many batches holds only their results.
func (p *PreparedIncidents) release() {
	p.incidents, p.recs, p.names = nil, nil, nil
}

// A pragma is a connection setting with an integer value.
type pragma struct {
	name  string
	value int
}

// importPragmas are the writer connection's settings while ImportStream
// runs, besides cache_size (Options.ImportCacheMiB).
var importPragmas = []pragma{
	{"wal_autocheckpoint", importCheckpointPages},
	// Commits do not wait for the disk; see ImportStream.
	{"synchronous", 1},
	// A statement that inserts many rows inside a transaction keeps a
	// journal of the pages it changes, to undo itself alone if it fails;
	// in a temporary file that cost more writes than the database's own.
	// In memory it is at most a few MiB.
	{"temp_store", 2},
}

// tuneWriter sets pragmas on the writer connection; restore sets back what
// was there. The pool keeps this one connection open for good, so the
// settings stay with it in between.
func (s *Store) tuneWriter(ctx context.Context, pragmas []pragma) (restore func() error, err error) {
	db := s.write.WithContext(ctx)
	old := make([]pragma, len(pragmas))
	for i, p := range pragmas {
		old[i].name = p.name
		// Scan, not Row: GORM hands back an empty sql.Row, which panics
		// on Scan, when it cannot prepare the statement.
		if err := db.Raw(`PRAGMA ` + p.name).Scan(&old[i].value).Error; err != nil {
			return nil, err
		}
	}
	// One statement per Exec: a prepared statement runs only the first.
	set := func(db *gorm.DB, pragmas []pragma) error {
		var errs []error
		for _, p := range pragmas {
			errs = append(errs, db.Exec(fmt.Sprintf(`PRAGMA %s = %d`, p.name, p.value)).Error)
		}
		return errors.Join(errs...)
	}
	restore = func() error { return set(s.write, old) }
	if err := set(db, pragmas); err != nil {
		return nil, errors.Join(err, restore())
	}
	return restore, nil
}

// syncWAL makes the commits that did not wait for the disk durable: the
// WAL holds every commit not yet copied into the database file, and a
// checkpoint syncs the database file before it lets the WAL start over.
// SQLite has no statement that syncs the WAL alone, and a checkpoint that
// waits for readers to leave it would hold off other writers meanwhile.
// The directory is synced too, in case the import created the WAL file.
func (s *Store) syncWAL() error {
	for _, name := range []string{s.path + "-wal", filepath.Dir(s.path)} {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			return fmt.Errorf("sync %s: %w", name, err)
		}
	}
	return nil
}

type actorState int

const (
	actorMissing actorState = iota + 1
	actorLive
	actorDeleted
)

// heldBy is the incident holding an external_id.
type heldBy struct {
	id   int64
	live bool
}

// importWriter writes prepared batches in one open write transaction.
type importWriter struct {
	s   *Store
	ctx context.Context
	tx  *gorm.DB
	now time.Time
	// stamp ends the history snapshot of an incident created now.
	stamp string
	by    string
	// nextID is the id of the next incident created: the writer holds the
	// write lock, so nothing else inserts incidents meanwhile.
	nextID int64
	// unindexed is the first created incident whose text is not yet in
	// the full-text index; every created one after it is not either.
	unindexed int64
	actors    map[string]actorState
	rows      int // records written in this transaction
	args      []any
	// alerts raises the alerts of the transaction's writes: only records
	// inside the alert window cost anything.
	alerts *store.AlertWriter
	// stmts are prepared once per transaction: GORM's statement cache
	// prepares a statement again at every use inside a transaction and
	// keeps each copy until the transaction ends.
	stmts map[string]*sql.Stmt
}

// exec runs query on the transaction with a statement prepared once.
func (w *importWriter) exec(query string, args ...any) error {
	st, err := w.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(w.ctx, args...)
	return err
}

func (w *importWriter) stmt(query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.tx.Statement.ConnPool.PrepareContext(w.ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st // closed with the transaction
	return st, nil
}

func (s *Store) newImportWriter(ctx context.Context, tx *gorm.DB) (*importWriter, error) {
	w := &importWriter{s: s, ctx: ctx, tx: tx, now: s.now(), by: domain.PrincipalName(ctx),
		actors: map[string]actorState{}, stmts: map[string]*sql.Stmt{}, alerts: s.WriteAlerts(tx)}
	st, err := w.stmt(`SELECT coalesce(max(id), 0) + 1 FROM incidents`)
	if err != nil {
		return nil, err
	}
	if err := st.QueryRowContext(ctx).Scan(&w.nextID); err != nil {
		return nil, err
	}
	w.unindexed = w.nextID
	at, err := json.Marshal(w.now)
	if err != nil {
		return nil, err
	}
	w.stamp = `,"created_at":` + string(at) + `,"updated_at":` + string(at) + `,"version":1}`
	return w, nil
}

// batchRefs is what the database holds of what one batch names.
type batchRefs struct {
	externalIDs map[string]heldBy
	facilities  map[int64]bool // live ones
}

// write stores a batch in the writer's transaction. A record that fails a
// check is rejected and leaves nothing behind; any other error means the
// transaction must roll back.
func (w *importWriter) write(p *PreparedIncidents) ([]domain.ImportResult, error) {
	results := make([]domain.ImportResult, len(p.incidents))
	refs, err := w.lookup(p)
	if err != nil {
		return nil, err
	}
	var created []int // records to insert, in order
	for i, inc := range p.incidents {
		outcome, err := w.importOne(p, i, refs, &created)
		if err != nil {
			if domain.ErrorCodeOf(err) == domain.EINTERNAL {
				return nil, err
			}
			results[i] = domain.ImportResult{Outcome: domain.ImportRejected, Err: err}
			continue
		}
		results[i] = domain.ImportResult{Outcome: outcome, ID: inc.ID}
	}
	if err := w.insertCreated(p, created); err != nil {
		return nil, internal(err)
	}
	w.rows += len(p.incidents)
	return results, nil
}

// finish indexes the text of the incidents created; the transaction may
// then commit.
func (w *importWriter) finish() error {
	if w.unindexed == w.nextID {
		return nil
	}
	err := indexTextRange(w.tx, w.unindexed, w.nextID-1)
	w.unindexed = w.nextID
	return internal(err)
}

// lookup reads, in one query each, the state of the actors, external ids
// and facilities the valid records of p name.
func (w *importWriter) lookup(p *PreparedIncidents) (*batchRefs, error) {
	refs := &batchRefs{externalIDs: map[string]heldBy{}, facilities: map[int64]bool{}}
	var actors, exts []string
	var facilities []int64
	seenActor := map[string]bool{}
	for i, inc := range p.incidents {
		if p.recs[i].err != nil {
			continue
		}
		for _, a := range inc.Actors {
			if _, known := w.actors[a.ActorID]; !known && !seenActor[a.ActorID] {
				seenActor[a.ActorID] = true
				actors = append(actors, a.ActorID)
			}
		}
		if inc.ExternalID != nil {
			exts = append(exts, *inc.ExternalID)
		}
		if inc.FacilityID != nil {
			facilities = append(facilities, *inc.FacilityID)
		}
	}
	for _, id := range actors {
		w.actors[id] = actorMissing
	}
	err := w.query(lookupActors, actors, func(scan func(...any) error) error {
		var id string
		var deleted bool
		if err := scan(&id, &deleted); err != nil {
			return err
		}
		w.actors[id] = actorLive
		if deleted {
			w.actors[id] = actorDeleted
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = w.query(lookupExternalIDs, exts, func(scan func(...any) error) error {
		var ext string
		var h heldBy
		if err := scan(&ext, &h.id, &h.live); err != nil {
			return err
		}
		refs.externalIDs[ext] = h
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = w.query(lookupFacilities, facilities, func(scan func(...any) error) error {
		var id int64
		if err := scan(&id); err != nil {
			return err
		}
		refs.facilities[id] = true
		return nil
	})
	return refs, err
}

// The lookups of a batch's keys, each given as one JSON array. The text
// keys name their unique index: planner statistics taken while the table
// was small, as after a first import of a few rows, otherwise made SQLite
// scan the table once per batch (a 300,000-line import into a one-row
// database took twice as long as into an empty one). The automatic index
// of a table's one UNIQUE or TEXT PRIMARY KEY column is named
// sqlite_autoindex_<table>_1, and a statement naming an index that does
// not exist fails to prepare. Integer keys are rowids, which SQLite probes.
const (
	lookupActors = `SELECT id, deleted_at IS NOT NULL FROM actors INDEXED BY sqlite_autoindex_actors_1
		WHERE id IN (SELECT value FROM json_each(?))`
	lookupExternalIDs = `SELECT external_id, id, deleted_at IS NULL FROM incidents INDEXED BY sqlite_autoindex_incidents_1
		WHERE external_id IN (SELECT value FROM json_each(?))`
	lookupFacilities = `SELECT id FROM facilities WHERE deleted_at IS NULL AND id IN (SELECT value FROM json_each(?))`
)

// query runs a lookup whose one parameter is the JSON array of keys, unless
// there are none.
func (w *importWriter) query(q string, keys any, row func(scan func(...any) error) error) error {
	list, err := json.Marshal(keys)
	if err != nil || string(list) == "null" {
		return err
	}
	st, err := w.stmt(q)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(w.ctx, string(list))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// importOne checks record i of p (returning a domain error to reject it
// before any write), creates the actors it names that do not exist, and
// either replaces the incident holding its external_id or assigns it an id
// and queues it in created for insertCreated.
func (w *importWriter) importOne(p *PreparedIncidents, i int, refs *batchRefs, created *[]int) (domain.ImportOutcome, error) {
	inc := p.incidents[i]
	if err := p.recs[i].err; err != nil {
		return "", err
	}
	var prob domain.Problems
	for j, a := range inc.Actors {
		if w.actors[a.ActorID] == actorDeleted {
			prob.Add(fmt.Sprintf("properties.actors[%d].actor_id", j), "actor %q was deleted", a.ActorID)
		}
	}
	if err := prob.Err(); err != nil {
		return "", err
	}
	var held heldBy
	if inc.ExternalID != nil {
		held = refs.externalIDs[*inc.ExternalID]
	}
	if held.live {
		return w.update(p, held.id, inc, created)
	}
	// What checkIncidentRefs checks on create: the facility, and an
	// external_id a deleted incident holds.
	if inc.FacilityID != nil && !refs.facilities[*inc.FacilityID] {
		prob.Add("properties.facility_id", "facility %d does not exist", *inc.FacilityID)
		return "", prob.Err()
	}
	if held.id != 0 {
		return "", store.ExternalIDOfDeleted(*inc.ExternalID, held.id)
	}
	if _, err := w.createActors(p, inc); err != nil {
		return "", err
	}
	inc.ID, inc.CreatedAt, inc.UpdatedAt, inc.Version = w.nextID, w.now, w.now, 1
	w.nextID++
	if inc.ExternalID != nil {
		refs.externalIDs[*inc.ExternalID] = heldBy{id: inc.ID, live: true}
	}
	*created = append(*created, i)
	return domain.ImportCreated, nil
}

// update writes inc over the live incident id. A rejected update leaves
// nothing behind, not even the actors created for it: they are created
// under a savepoint that the rejection rolls back.
func (w *importWriter) update(p *PreparedIncidents, id int64, inc *domain.Incident, created *[]int) (domain.ImportOutcome, error) {
	// replaceIncident reads the incident and may update its text: what
	// this batch created so far must be written and indexed.
	if err := w.insertCreated(p, *created); err != nil {
		return "", internal(err)
	}
	*created = (*created)[:0]
	if err := w.finish(); err != nil {
		return "", err
	}
	if err := w.exec(`SAVEPOINT import_update`); err != nil {
		return "", internal(err)
	}
	made, err := w.createActors(p, inc)
	changed := false
	if err == nil {
		changed, err = w.s.replaceIncident(w.ctx, w.tx, id, inc, 0, w.alerts)
	}
	if err != nil {
		if rerr := w.exec(`ROLLBACK TO import_update`); rerr != nil {
			return "", internal(rerr)
		}
		for _, a := range made {
			w.actors[a] = actorMissing
		}
	}
	if rerr := w.exec(`RELEASE import_update`); rerr != nil {
		return "", internal(rerr)
	}
	switch {
	case err != nil:
		return "", err
	case !changed:
		return domain.ImportUnchanged, nil
	}
	return domain.ImportUpdated, nil
}

// createActors creates the actors inc names that do not exist yet, under
// the names the import was given, and returns their ids. All are checked
// before any is written, so a domain error (which rejects inc) leaves
// none behind.
func (w *importWriter) createActors(p *PreparedIncidents, inc *domain.Incident) ([]string, error) {
	var actors []*domain.Actor
	for _, a := range inc.Actors {
		// An actor named in several roles is created once.
		if w.actors[a.ActorID] != actorMissing ||
			slices.ContainsFunc(actors, func(c *domain.Actor) bool { return c.ID == a.ActorID }) {
			continue
		}
		actor, err := store.ImportedActor(a.ActorID, p.names)
		if err != nil {
			return nil, err
		}
		actors = append(actors, actor)
	}
	var made []string
	for _, actor := range actors {
		if err := w.s.createActor(w.ctx, w.tx, actor); err != nil {
			return made, internal(err)
		}
		w.actors[actor.ID] = actorLive
		made = append(made, actor.ID)
	}
	return made, nil
}

// internal marks a failure after checks passed as internal, so that it
// rolls back the whole batch instead of rejecting one half-written record.
// A domain error keeps only its text: its code would reject the record.
func internal(err error) error {
	switch {
	case err == nil:
		return nil
	case domain.ErrorCodeOf(err) != domain.EINTERNAL:
		return fmt.Errorf("import write: %s", err)
	}
	return fmt.Errorf("import write: %w", err)
}

// insertCreated writes the incidents of p at the indexes created, which
// importOne has checked and given ids, with their actors and first history
// version.
func (w *importWriter) insertCreated(p *PreparedIncidents, created []int) error {
	if len(created) == 0 {
		return nil
	}
	err := w.insertRows(incidentInsert, len(created), []any{micros(w.now)}, func(args []any, k int) []any {
		i := created[k]
		inc := p.incidents[i]
		return appendIncidentValues(args, inc, p.recs[i].extra)
	})
	if err != nil {
		return err
	}
	var links [][2]int // record, actor
	for _, i := range created {
		for j := range p.incidents[i].Actors {
			links = append(links, [2]int{i, j})
		}
	}
	err = w.insertRows(incidentActorInsert, len(links), nil, func(args []any, k int) []any {
		inc := p.incidents[links[k][0]]
		a := inc.Actors[links[k][1]]
		return append(args, inc.ID, a.ActorID, string(a.Role))
	})
	if err != nil {
		return err
	}
	var encodeErr error
	shared := []any{store.CollIncidents, store.OpCreate, micros(w.now), w.by}
	err = w.insertRows(historyCreateInsert, len(created), shared, func(args []any, k int) []any {
		i := created[k]
		inc := p.incidents[i]
		snap, err := w.snapshot(inc, p.recs[i].snapshot)
		if err != nil && encodeErr == nil {
			encodeErr = err
		}
		return append(args, strconv.FormatInt(inc.ID, 10), snap)
	})
	if encodeErr != nil {
		return encodeErr
	}
	if err != nil {
		return err
	}
	for _, i := range created {
		if err := w.alerts.Write(w.ctx, nil, p.incidents[i]); err != nil {
			return err
		}
	}
	return nil
}

// snapshot is the history snapshot of a created incident: mid spliced
// between its id and its server-set fields, or the whole encoding.
func (w *importWriter) snapshot(inc *domain.Incident, mid []byte) (string, error) {
	if mid == nil {
		b, err := json.Marshal(inc)
		if err != nil {
			return "", fmt.Errorf("encode history snapshot: %w", err)
		}
		return string(b), nil
	}
	var b strings.Builder
	b.Grow(len(`{"id":`) + 20 + len(mid) + len(w.stamp))
	b.WriteString(`{"id":`)
	b.WriteString(strconv.FormatInt(inc.ID, 10))
	b.Write(mid)
	b.WriteString(w.stamp)
	return b.String(), nil
}

// A multiRow statement inserts many rows at once: head, then row once per
// record. In row, each ? stands for a value of the record, and ?1 to
// ?shared for values every row of the statement shares (the time, the
// author), which are bound once per statement instead of once per row.
type multiRow struct {
	head, row string
	shared    int
}

var (
	incidentInsert = multiRow{`INSERT INTO incidents (id, lon, lat, type, title, description, occurred_at,
		time_precision, location_precision, severity, status, country, facility_id, killed, injured, external_id,
		extra, created_at, updated_at, version) VALUES `, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?1, ?1, 1)`, 1}
	incidentActorInsert = multiRow{`INSERT INTO incident_actors (incident_id, actor_id, role) VALUES `, `(?, ?, ?)`, 0}
	historyCreateInsert = multiRow{`INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot) VALUES `,
		`(?1, ?, 1, ?2, ?3, ?4, ?)`, 4}
)

// maxRowsPerInsert bounds the rows of one statement: well under SQLite's
// 32,766 parameters, and enough that the per-statement cost vanishes.
const maxRowsPerInsert = 256

// multiRowSQL caches statement texts by (statement, rows); rows are powers
// of two, so each statement has at most nine shapes to prepare.
var multiRowSQL sync.Map

func (m multiRow) sql(rows int) string {
	key := struct {
		m    multiRow
		rows int
	}{m, rows}
	if q, ok := multiRowSQL.Load(key); ok {
		return q.(string)
	}
	var b strings.Builder
	b.WriteString(m.head)
	n := m.shared
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		for i := 0; i < len(m.row); i++ {
			b.WriteByte(m.row[i])
			if m.row[i] == '?' && (i+1 == len(m.row) || m.row[i+1] < '0' || m.row[i+1] > '9') {
				n++
				b.WriteString(strconv.Itoa(n))
			}
		}
	}
	q := b.String()
	multiRowSQL.Store(key, q)
	return q
}

// insertRows inserts n rows, the values of row k appended by values after
// the shared ones, in statements of maxRowsPerInsert rows and then of
// falling powers of two.
func (w *importWriter) insertRows(m multiRow, n int, shared []any, values func(args []any, k int) []any) error {
	for done := 0; done < n; {
		rows := maxRowsPerInsert
		for rows > n-done {
			rows /= 2
		}
		w.args = append(w.args[:0], shared...)
		for k := done; k < done+rows; k++ {
			w.args = values(w.args, k)
		}
		if err := w.exec(m.sql(rows), w.args...); err != nil {
			return err
		}
		done += rows
	}
	clear(w.args)
	return nil
}

// appendIncidentValues appends the incidentInsert values of inc, a created
// incident, as the driver's own types so database/sql need not convert
// them.
func appendIncidentValues(args []any, inc *domain.Incident, extra string) []any {
	var facility, external any
	if inc.FacilityID != nil {
		facility = *inc.FacilityID
	}
	if inc.ExternalID != nil {
		external = *inc.ExternalID
	}
	return append(args, inc.ID, inc.Location[0], inc.Location[1], string(inc.Type), inc.Title, inc.Description,
		micros(inc.OccurredAt), string(inc.TimePrecision), string(inc.LocationPrecision), int64(inc.Severity),
		string(inc.Status), inc.Country, facility, int64(inc.Casualties.Killed), int64(inc.Casualties.Injured),
		external, extra)
}
