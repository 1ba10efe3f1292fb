package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/grid"
)

// DefaultIncidentCacheBytes is Options.IncidentCacheBytes when unset.
const DefaultIncidentCacheBytes = grid.DefaultCacheBytes

// sqliteFeed is the grid's change feed on SQLite (see grid.Feed): every
// write to an incident appends a history row in the same transaction, and
// history ids grow in commit order (SQLite has one writer at a time), so
// the rows past the last id applied bring the grid up to date with writes
// from any process — an import running beside the server included. Its
// position is that last history id.
type sqliteFeed struct {
	s     *Store
	maxID *sql.Stmt
}

// startGrid builds the grid, in the background when the database is large.
func (s *Store) startGrid() error {
	db, err := s.read.DB()
	if err != nil {
		return err
	}
	maxID, err := db.Prepare(`SELECT coalesce(max(id), 0) FROM history`)
	if err != nil {
		return err
	}
	s.gridFeed = &sqliteFeed{s: s, maxID: maxID}
	n, err := s.liveIncidents(context.Background())
	if err != nil {
		return err
	}
	s.grid, err = grid.Follow[int64](s.gridFeed, s.opts.IncidentCacheBytes, n > grid.SyncBuild)
	return err
}

// stopGrid ends a build in progress and releases the feed's statement.
func (s *Store) stopGrid() {
	if s.gridFeed == nil {
		return
	}
	if s.grid != nil {
		s.grid.Stop()
	}
	s.gridFeed.maxID.Close()
}

// Build reads every live incident's place and time in (occurred_at, id)
// order, so each cell fills already sorted, and the history id it is
// current to, both in one read transaction.
func (f *sqliteFeed) Build(ctx context.Context, g *grid.Grid) (int64, error) {
	db, err := f.s.read.DB()
	if err != nil {
		return 0, err
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var applied int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM history`).Scan(&applied); err != nil {
		return 0, err
	}
	var maxID, live int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT max(id) FROM incidents), 0),
		coalesce((SELECT n FROM live_counts WHERE collection = 'incidents'), 0)`).Scan(&maxID, &live); err != nil {
		return 0, err
	}
	g.Presize(maxID, live)
	// While an import has the occurred_at index dropped, the same rows
	// come from the table, sorted: seconds at 1M rather than one.
	var stale bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+treeStaleTable+`)`).Scan(&stale); err != nil {
		return 0, err
	}
	from := `incidents INDEXED BY ` + timeIndex
	if stale {
		from = `incidents`
	}
	rows, err := tx.QueryContext(ctx, `SELECT occurred_at, id, lon, lat FROM `+from+`
		WHERE deleted_at IS NULL ORDER BY occurred_at, id`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var e grid.Entry
		if err := rows.Scan(&e.At, &e.ID, &e.Lon, &e.Lat); err != nil {
			return 0, err
		}
		g.Add(e)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("build grid: %w", err)
	}
	// No index holds the type: one pass over the table, in rowid order,
	// brings every incident's meta.
	meta, err := tx.QueryContext(ctx, `SELECT id, type, severity FROM incidents WHERE deleted_at IS NULL`)
	if err != nil {
		return 0, err
	}
	defer meta.Close()
	for meta.Next() {
		var id int64
		var t string
		var sev int
		if err := meta.Scan(&id, &t, &sev); err != nil {
			return 0, err
		}
		g.SetMeta(id, grid.NewMeta(sev, domain.IncidentType(t)))
	}
	if err := meta.Err(); err != nil {
		return 0, fmt.Errorf("build grid: %w", err)
	}
	if err := buildActors(ctx, tx, g); err != nil {
		return 0, fmt.Errorf("build grid: %w", err)
	}
	return applied, nil
}

// buildActors gives the grid each actor's incidents from the covering
// index incident_actors_actor, one row per actor with its incident ids as
// one comma-separated value (grid.AddActorLists).
func buildActors(ctx context.Context, tx *sql.Tx, g *grid.Grid) error {
	rows, err := tx.QueryContext(ctx, `SELECT actor_id, group_concat(incident_id) FROM incident_actors INDEXED BY incident_actors_actor
		GROUP BY actor_id`)
	if err != nil {
		return err
	}
	return g.AddActorLists(rows)
}

// Behind compares the last history id with the grid's.
func (f *sqliteFeed) Behind(ctx context.Context, applied int64) (bool, error) {
	var last int64
	err := f.maxID.QueryRowContext(ctx).Scan(&last)
	return last > applied, err
}

// Changes reads the history rows past applied and, for each incident they
// name, where its row now says it is and which actors it names, or that it
// is gone. One statement reads history and rows from one snapshot. Actor
// ids cannot hold a comma (domain.Actor.Validate), so group_concat's list
// splits back exactly.
func (f *sqliteFeed) Changes(ctx context.Context, applied int64) ([]grid.Change, int64, error) {
	db, err := f.s.read.DB()
	if err != nil {
		return nil, 0, err
	}
	rows, err := db.QueryContext(ctx, `SELECT h.id, h.collection = 'incidents', CAST(h.record_id AS INTEGER),
			i.occurred_at, i.lon, i.lat, i.type, i.severity, i.id IS NOT NULL AND i.deleted_at IS NULL,
			(SELECT group_concat(DISTINCT actor_id) FROM incident_actors WHERE incident_id = i.id)
		FROM history h LEFT JOIN incidents i ON h.collection = 'incidents' AND i.id = CAST(h.record_id AS INTEGER)
		WHERE h.id > ? ORDER BY h.id`, applied)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	last := applied
	changed := map[int64]grid.Change{}
	for rows.Next() {
		var hid, id int64
		var isIncident, live bool
		var at, sev sql.NullInt64
		var lon, lat sql.NullFloat64
		var typ, actors sql.NullString
		if err := rows.Scan(&hid, &isIncident, &id, &at, &lon, &lat, &typ, &sev, &live, &actors); err != nil {
			return nil, 0, err
		}
		last = hid
		if !isIncident {
			continue
		}
		changed[id] = grid.Change{Entry: grid.Entry{ID: id}, Gone: true}
		if live {
			c := grid.Change{Entry: grid.Entry{At: at.Int64, ID: id, Lon: lon.Float64, Lat: lat.Float64},
				Meta: grid.NewMeta(int(sev.Int64), domain.IncidentType(typ.String))}
			if actors.String != "" {
				c.Actors = strings.Split(actors.String, ",")
			}
			changed[id] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	changes := make([]grid.Change, 0, len(changed))
	for _, c := range changed {
		changes = append(changes, c)
	}
	return changes, last, nil
}

// currentGrid returns the grid brought up to date with every committed
// write, or nil while it is being built or when the store runs without it.
func (s *Store) currentGrid(ctx context.Context) (*grid.Grid, error) {
	if s.grid == nil {
		return nil, nil
	}
	return s.grid.Current(ctx)
}

// findInGrid answers a query of the grid's conditions (see grid.Pages)
// from the grid (grid.Find); a wide box takes its page's ids from the
// occurred_at index.
func (s *Store) findInGrid(ctx context.Context, g *grid.Grid, f domain.IncidentFilter, o order) (*domain.IncidentPage, error) {
	return grid.Find(ctx, g, s.grid.Cache(), f, o.Order, s.opts.GridMergeCells, grid.Rows{
		WideIDs: func(ctx context.Context, f domain.IncidentFilter, q *grid.Query, n int) ([]int64, error) {
			return s.walkTimeIndexIDs(ctx, f, o, q.Bounds(), n)
		},
		Read: s.readIncidents,
	})
}

// GridReady is closed once the in-memory grid answers queries; it is closed
// from the start when the store runs without one.
func (s *Store) GridReady() <-chan struct{} {
	if s.grid == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.grid.Ready()
}

// readIncidents reads the live incidents among ids, in id order.
func (s *Store) readIncidents(ctx context.Context, ids []int64) ([]*domain.Incident, error) {
	rows, err := s.queryByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanIncidents(rows, len(ids))
}
