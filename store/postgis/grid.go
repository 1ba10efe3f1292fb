package postgis

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/grid"
)

// pgFeed is the grid's change feed on PostgreSQL (see grid.Feed). Every
// write to an incident appends a history row in its transaction, and each
// history row carries the id of the transaction that wrote it
// (pg_current_xact_id(), migration 6). History ids cannot serve as the
// position, as they do on SQLite: they come from a sequence when the
// insert runs, and two overlapping transactions may commit in the reverse
// order, so a reader could see id 11 before id 10 exists for it and never
// look back. The position is a snapshot (pg_current_snapshot()) instead:
// the rows a snapshot cannot see are exactly those of transactions at or
// past its xmax or in its list of transactions in progress (xip), whatever
// order they commit in — so each catch-up reads those rows, in a new
// snapshot that becomes the next position. Its cost follows the writes
// since the last catch-up, not the oldest transaction still open.
type pgFeed struct {
	db *sql.DB
}

// pgSnapshot is a feed position: a snapshot's xmax and its transactions in
// progress, as text for xid8 and xid8[] (pgx has no xid8 codec).
type pgSnapshot struct {
	xmax string
	xip  string // an array literal: {x,y}
}

// parseSnapshot reads pg_snapshot's text form, xmin:xmax:xip,xip,…
func parseSnapshot(s string) (pgSnapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return pgSnapshot{}, fmt.Errorf("snapshot %q is not xmin:xmax:xip", s)
	}
	return pgSnapshot{xmax: parts[1], xip: "{" + parts[2] + "}"}, nil
}

// startGrid builds the grid, in the background when the database is large.
func (s *Store) startGrid() error {
	db, err := s.db.DB()
	if err != nil {
		return err
	}
	var n int
	// Counting past the threshold would tell nothing more.
	if err := db.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM incidents WHERE deleted_at IS NULL LIMIT $1) l`,
		grid.SyncBuild+1).Scan(&n); err != nil {
		return translate(err)
	}
	s.grid, err = grid.Follow[pgSnapshot](&pgFeed{db: db}, s.opts.IncidentCacheBytes, n > grid.SyncBuild)
	return translate(err)
}

// snapshotTx begins a REPEATABLE READ, READ ONLY transaction and returns it
// with its snapshot: every statement in it sees that snapshot.
func (f *pgFeed) snapshotTx(ctx context.Context) (*sql.Tx, pgSnapshot, error) {
	tx, err := f.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, pgSnapshot{}, err
	}
	var text string
	if err := tx.QueryRowContext(ctx, `SELECT CAST(pg_current_snapshot() AS text)`).Scan(&text); err != nil {
		tx.Rollback()
		return nil, pgSnapshot{}, err
	}
	snap, err := parseSnapshot(text)
	if err != nil {
		tx.Rollback()
	}
	return tx, snap, err
}

// Build reads every live incident's place, time, type and severity in
// (occurred_at, id) order, so each cell fills already sorted, in the
// snapshot it returns.
func (f *pgFeed) Build(ctx context.Context, g *grid.Grid) (pgSnapshot, error) {
	tx, snap, err := f.snapshotTx(ctx)
	if err != nil {
		return snap, err
	}
	defer tx.Rollback()
	var maxID, live int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0), greatest(CAST((SELECT reltuples FROM pg_class
		WHERE oid = CAST('incidents' AS regclass)) AS bigint), 0) FROM incidents`).Scan(&maxID, &live); err != nil {
		return snap, err
	}
	g.Presize(maxID, live)
	rows, err := tx.QueryContext(ctx, `SELECT id, occurred_at, lon, lat, type, severity FROM incidents
		WHERE deleted_at IS NULL ORDER BY occurred_at, id`)
	if err != nil {
		return snap, err
	}
	defer rows.Close()
	for rows.Next() {
		var e grid.Entry
		var at time.Time
		var typ string
		var sev int
		if err := rows.Scan(&e.ID, &at, &e.Lon, &e.Lat, &typ, &sev); err != nil {
			return snap, err
		}
		e.At = at.UnixMicro()
		e.Meta = grid.NewMeta(sev, domain.IncidentType(typ))
		g.Add(e)
	}
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("build grid: %w", err)
	}
	rows.Close()
	if err := buildActors(ctx, tx, g); err != nil {
		return snap, fmt.Errorf("build grid: %w", err)
	}
	return snap, nil
}

// buildActors gives the grid each actor's incidents, one row per actor
// with its incident ids as one text value (grid.AddActorLists) from the
// covering index incident_actors_actor.
func buildActors(ctx context.Context, tx *sql.Tx, g *grid.Grid) error {
	rows, err := tx.QueryContext(ctx, `SELECT actor_id, string_agg(CAST(incident_id AS text), ',') FROM incident_actors
		GROUP BY actor_id`)
	if err != nil {
		return err
	}
	return g.AddActorLists(rows)
}

// Behind reports whether history holds a row pos cannot see: one written
// by a transaction at or past pos's xmax (the largest xid visible says),
// or by one then in progress. Two index probes of history_xid, in forms
// the planner cannot turn into a scan of the table whatever its
// statistics say: right after a bulk load history has none, and
// "EXISTS … WHERE xid >= $1" was planned as a sequential scan that found
// nothing in 2 s.
//
// It is planned for its parameters each time, unlike the reads by id: a
// kept generic plan cannot see that the list of transactions in progress
// is short and scans all of history for it.
func (f *pgFeed) Behind(ctx context.Context, pos pgSnapshot) (bool, error) {
	var behind bool
	err := f.db.QueryRowContext(ctx, `SELECT coalesce((SELECT xid >= CAST(CAST($1 AS text) AS xid8) FROM history
			WHERE xid IS NOT NULL ORDER BY xid DESC LIMIT 1), false)
		OR EXISTS (SELECT 1 FROM history WHERE xid = ANY (CAST(CAST($2 AS text) AS xid8[])))`, pos.xmax, pos.xip).Scan(&behind)
	return behind, err
}

// Changes reads, in a new snapshot, every incident named by a history row
// pos cannot see, as its row now is.
func (f *pgFeed) Changes(ctx context.Context, pos pgSnapshot) ([]grid.Change, pgSnapshot, error) {
	tx, snap, err := f.snapshotTx(ctx)
	if err != nil {
		return nil, pos, err
	}
	defer tx.Rollback()
	// The rows come from history_xid alone: without statistics (after a
	// bulk load) the planner took the xid range for a third of the table
	// and intersected it with the (collection, …) index, 5 s for nothing;
	// and its cost estimate then brought in JIT, another half second.
	for _, set := range []string{`SET LOCAL enable_seqscan = off`, `SET LOCAL jit = off`} {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			return nil, pos, err
		}
	}
	rows, err := tx.QueryContext(ctx, `WITH h AS MATERIALIZED (
			SELECT collection, record_id FROM history WHERE xid >= CAST(CAST($1 AS text) AS xid8)
			UNION ALL SELECT collection, record_id FROM history WHERE xid = ANY (CAST(CAST($2 AS text) AS xid8[])))
		SELECT c.id, i.occurred_at, i.lon, i.lat, i.type, i.severity, i.deleted_at IS NULL AND i.id IS NOT NULL,
			(SELECT string_agg(DISTINCT actor_id, ',') FROM incident_actors WHERE incident_id = c.id)
		FROM (SELECT DISTINCT CAST(record_id AS bigint) AS id FROM h WHERE collection = 'incidents') c
		LEFT JOIN incidents i ON i.id = c.id`, pos.xmax, pos.xip)
	if err != nil {
		return nil, pos, err
	}
	defer rows.Close()
	var changes []grid.Change
	for rows.Next() {
		var id int64
		var at sql.NullTime
		var lon, lat sql.NullFloat64
		var typ sql.NullString
		var sev sql.NullInt64
		var live bool
		var actors sql.NullString
		if err := rows.Scan(&id, &at, &lon, &lat, &typ, &sev, &live, &actors); err != nil {
			return nil, pos, err
		}
		c := grid.Change{Entry: grid.Entry{ID: id}, Gone: true}
		if live {
			c = grid.Change{Entry: grid.Entry{At: at.Time.UnixMicro(), ID: id, Lon: lon.Float64, Lat: lat.Float64},
				Meta: grid.NewMeta(int(sev.Int64), domain.IncidentType(typ.String))}
			if actors.String != "" {
				c.Actors = strings.Split(actors.String, ",") // actor ids hold no comma (domain.actorIDPattern)
			}
		}
		changes = append(changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, pos, err
	}
	return changes, snap, nil
}

// currentGrid returns the grid brought up to date with every write
// committed before the call, from any replica, or nil while it is being
// built or when the store runs without it.
func (s *Store) currentGrid(ctx context.Context) (*grid.Grid, error) {
	if s.grid == nil {
		return nil, nil
	}
	g, err := s.grid.Current(ctx)
	return g, translate(err)
}

// gridFinds reports whether the grid answers FindIncidents for f in order
// o: its page and count (see grid.Pages), in the default order by
// occurred_at.
func gridFinds(f domain.IncidentFilter, o store.Order) bool {
	return grid.Pages(f) && o.Simple && o.Terms[0].Field == "occurred_at"
}

// findInGrid answers FindIncidents from the grid when it can (see
// gridFinds) and is built (grid.Find); ok is false when the SQL path must
// answer.
func (s *Store) findInGrid(ctx context.Context, f domain.IncidentFilter, o store.Order) (page *domain.IncidentPage, ok bool, err error) {
	if !gridFinds(f, o) {
		return nil, false, nil
	}
	g, err := s.currentGrid(ctx)
	if err != nil || g == nil {
		return nil, false, err
	}
	page, err = grid.Find(ctx, g, s.grid.Cache(), f, o, s.opts.GridMergeCells, grid.Rows{
		WideIDs: func(ctx context.Context, f domain.IncidentFilter, _ *grid.Query, n int) ([]int64, error) {
			return s.pageIDs(ctx, f, o, n)
		},
		Read: s.readIncidents,
	})
	return page, err == nil, translate(err)
}

// pageIDs are the ids of the first n matches of f past its cursor, in
// order o, from SQL.
func (s *Store) pageIDs(ctx context.Context, f domain.IncidentFilter, o store.Order, n int) ([]int64, error) {
	q, err := s.incidentQuery(s.db.WithContext(ctx), f, false)
	if err != nil {
		return nil, err
	}
	if c := f.Page.Cursor; c != nil {
		cond, args := o.After("i.", c, bindSortValue)
		q = q.Where(cond, args...)
	}
	ids := make([]int64, 0, min(n, 1024))
	err = q.Order(o.SQL("i.")).Limit(n).Pluck("i.id", &ids).Error
	return ids, translate(err)
}

// readIncidents reads the live incidents among ids, in one statement
// whose text is the same for any number of ids and whose plan (the primary
// key) PostgreSQL keeps (keptPlan).
func (s *Store) readIncidents(ctx context.Context, ids []int64) ([]*domain.Incident, error) {
	out := make([]*domain.Incident, 0, len(ids))
	err := s.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT `+incidentColumns+` FROM incidents i WHERE i.id = ANY ($1) AND i.deleted_at IS NULL`,
			keptPlan(s.named, ids)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			inc, err := scanIncident(rows)
			if err != nil {
				return err
			}
			out = append(out, inc)
		}
		return rows.Err()
	})
	return out, translate(err)
}

// GridReady is closed once the in-memory grid answers queries; it is
// closed from the start when the store runs without one.
func (s *Store) GridReady() <-chan struct{} {
	if s.grid == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.grid.Ready()
}
