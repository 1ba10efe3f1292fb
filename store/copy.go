package store

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CopyEnd is one side of Copy: an engine's database as Copy reads or
// writes it. Each engine makes its own (CopyEnd methods of store/sqlite
// and store/postgis); Copy knows the shared schema.
type CopyEnd struct {
	// DB is the pool Copy takes its one transaction from: on the source
	// any read connection, on the destination the writer.
	DB *sql.DB
	// Dialect is "sqlite" or "postgres".
	Dialect string
	// Finish runs in the destination's transaction after every row is
	// loaded and brings what the engine derives from the rows up to date
	// (SQLite's full-text index); nil when there is nothing to do.
	Finish func(ctx context.Context, tx *sql.Tx) error
}

// colKind is how a column is stored. Times in the core tables are integer
// microseconds on SQLite and timestamptz on PostgreSQL; Copy carries them
// as microseconds, so no precision is lost either way. The alert tables
// hold microseconds on both engines (AlertSchema), so their times are ints.
type colKind int

const (
	colInt colKind = iota
	colFloat
	colText
	colTime
)

type copyCol struct {
	name string
	kind colKind
}

// copyTable is one table of the shared schema as Copy moves it.
type copyTable struct {
	name string
	// order lists the key columns: rows are read in this order, so a
	// table's ids arrive ascending and its batches are reproducible.
	order string
	cols  []copyCol
	// identity is the column PostgreSQL numbers by a sequence, which Copy
	// moves past the copied ids; always says it is GENERATED ALWAYS, so
	// the insert must override it.
	identity string
	always   bool
}

func cols(spec string) []copyCol {
	var out []copyCol
	for _, f := range strings.Fields(spec) {
		name, kind, _ := strings.Cut(f, ":")
		k := map[string]colKind{"i": colInt, "f": colFloat, "s": colText, "t": colTime}[kind]
		out = append(out, copyCol{name, k})
	}
	return out
}

// copyTables is every table of postwatch's data in an order that loads
// referenced rows first (incidents after facilities, the outbox after
// alerts and webhooks). schema_migrations is each engine's own, and the
// indexes (R*Tree, FTS5, GiST, tsvector) are derived: neither is copied.
// meta (the database's identity, which STIX ids are minted from) comes
// last and replaces the destination's.
var copyTables = []copyTable{
	{name: "facilities", order: "id", identity: "id", cols: cols(`id:i lon:f lat:f name:s kind:s country:s city:s
		alert_radius_m:f posture:s created_at:t updated_at:t version:i deleted_at:t`)},
	{name: "actors", order: "id", cols: cols(`id:s name:s kind:s aliases:s country:s description:s
		created_at:t updated_at:t version:i deleted_at:t`)},
	{name: "incidents", order: "id", identity: "id", cols: cols(`id:i lon:f lat:f type:s title:s description:s
		occurred_at:t time_precision:s location_precision:s severity:i status:s country:s facility_id:i
		killed:i injured:i external_id:s extra:s created_at:t updated_at:t version:i deleted_at:t`)},
	{name: "incident_actors", order: "incident_id, actor_id, role", cols: cols(`incident_id:i actor_id:s role:s`)},
	{name: "relations", order: "id", identity: "id", cols: cols(`id:i subject_id:s kind:s target_id:s
		valid_from:t valid_to:t source:s created_at:t`)},
	{name: "postures", order: "id", identity: "id", cols: cols(`id:i facility_id:i posture:s effective_at:t
		reason:s recorded_at:t recorded_by:s incident_ids:s`)},
	{name: "history", order: "id", identity: "id", cols: cols(`id:i collection:s record_id:s version:i op:s
		changed_at:t changed_by:s snapshot:s`)},
	{name: "tokens", order: "id", identity: "id", cols: cols(`id:i name:s role:s hash:s created_at:t expires_at:t revoked_at:t`)},
	{name: "alerts", order: "seq", identity: "seq", always: true, cols: cols(`seq:i facility_id:i incident_id:i
		incident_version:i severity:i distance_m:f created_at:i incident:s`)},
	{name: "webhooks", order: "id", identity: "id", always: true, cols: cols(`id:i url:s facilities:s severity_min:i
		secret:s active:i created_at:i created_by:s disabled_at:i deleted_at:i`)},
	{name: "webhook_outbox", order: "id", identity: "id", always: true, cols: cols(`id:i webhook_id:i alert_seq:i
		attempt:i next_attempt_at:i lease_owner:s lease_until:i`)},
	{name: "webhook_deliveries", order: "id", identity: "id", always: true, cols: cols(`id:i webhook_id:i alert_seq:i
		attempt:i status:i error:s at:i next_attempt_at:i`)},
	{name: "meta", order: "key", cols: cols(`key:s value:s`)},
}

// CopyStats is what Copy moved: rows per table, in copy order.
type CopyStats struct {
	Tables []string
	Rows   map[string]int64
}

// CopyOptions tune Copy.
type CopyOptions struct {
	// Progress receives a line every ProgressEvery while rows are copied
	// (and nothing when nil).
	Progress      io.Writer
	ProgressEvery time.Duration
	// BatchRows bounds the rows of one INSERT (0: as many as 1,000 and
	// the dialects' bound-parameter limits allow).
	BatchRows int
}

// ErrDestinationNotEmpty is Copy's answer for a destination that already
// holds a record of any kind, tokens and alerts included.
var ErrDestinationNotEmpty = fmt.Errorf("the destination already holds records; migrate only into an empty database")

// Copy copies every record of one postwatch database into another, either
// engine to either: ids, version history, relations, postures, token
// hashes, alerts, webhooks with their secrets and owed deliveries, and the
// database identity. Both databases must be at the current schema (open
// each as a store first).
//
// The source is read in one transaction (REPEATABLE READ, READ ONLY on
// PostgreSQL; one read transaction on SQLite, which WAL keeps at one
// snapshot), so a server may go on writing to it meanwhile. Rows stream
// in batches of multi-row INSERTs, so memory stays flat. The destination
// is written in one transaction: it holds either the whole copy or, when
// anything fails, what it held before. A destination that holds any row
// (meta aside) is refused with ErrDestinationNotEmpty before anything is
// written. On PostgreSQL the identity sequences are moved past the copied
// ids, so the next record created gets a new one.
func Copy(ctx context.Context, src, dst CopyEnd, opts CopyOptions) (CopyStats, error) {
	stats := CopyStats{Rows: map[string]int64{}}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 3 * time.Second
	}
	// SQLite's driver ignores the options; its read pool is query-only,
	// and a read transaction there sees one snapshot from its first read.
	srcOpts := &sql.TxOptions{ReadOnly: true}
	if src.Dialect == "postgres" {
		srcOpts.Isolation = sql.LevelRepeatableRead
	}
	stx, err := src.DB.BeginTx(ctx, srcOpts)
	if err != nil {
		return stats, fmt.Errorf("read the source: %w", err)
	}
	defer stx.Rollback()
	dtx, err := dst.DB.BeginTx(ctx, nil)
	if err != nil {
		return stats, fmt.Errorf("write the destination: %w", err)
	}
	defer dtx.Rollback()

	for _, t := range copyTables {
		if t.name == "meta" {
			continue
		}
		var found int
		err := dtx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+t.name+` LIMIT 1) x`).Scan(&found)
		if err != nil {
			return stats, fmt.Errorf("check the destination's %s: %w", t.name, err)
		}
		if found > 0 {
			return stats, fmt.Errorf("%w (it has %s)", ErrDestinationNotEmpty, t.name)
		}
	}
	// The first read fixes the SQLite snapshot; every total below is of it.
	totals := map[string]int64{}
	for _, t := range copyTables {
		var n int64
		if err := stx.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
			return stats, fmt.Errorf("count the source's %s: %w", t.name, err)
		}
		totals[t.name] = n
	}
	if _, err := dtx.ExecContext(ctx, `DELETE FROM meta`); err != nil {
		return stats, fmt.Errorf("replace the destination's identity: %w", err)
	}
	p := progress{w: opts.Progress, every: opts.ProgressEvery, last: time.Now()}
	for _, t := range copyTables {
		n, err := copyRows(ctx, stx, dtx, src.Dialect, dst.Dialect, t, opts.BatchRows, func(done int64) {
			p.report(t.name, done, totals[t.name])
		})
		if err != nil {
			return stats, fmt.Errorf("copy %s: %w", t.name, err)
		}
		stats.Tables = append(stats.Tables, t.name)
		stats.Rows[t.name] = n
		if dst.Dialect == "postgres" && t.identity != "" {
			// setval's is_called = true: the next value is max + 1. An empty
			// table leaves the sequence alone (max is NULL; setval is strict).
			if _, err := dtx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), max(`+t.identity+`)) FROM `+t.name,
				t.name, t.identity); err != nil {
				return stats, fmt.Errorf("advance the %s sequence: %w", t.name, err)
			}
		}
	}
	if dst.Finish != nil {
		if err := dst.Finish(ctx, dtx); err != nil {
			return stats, fmt.Errorf("index the copy: %w", err)
		}
	}
	if err := dtx.Commit(); err != nil {
		return stats, fmt.Errorf("commit the copy: %w", err)
	}
	return stats, nil
}

// progress writes a line at most every so often.
type progress struct {
	w     io.Writer
	every time.Duration
	last  time.Time
}

func (p *progress) report(table string, done, total int64) {
	if p.w == nil || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "migrate: %s %d of %d rows\n", table, done, total)
}

// copyRows streams one table from stx to dtx and returns its row count.
func copyRows(ctx context.Context, stx, dtx *sql.Tx, from, to string, t copyTable, batchRows int, report func(int64)) (int64, error) {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	rows, err := stx.QueryContext(ctx, `SELECT `+strings.Join(names, ", ")+` FROM `+t.name+` ORDER BY `+t.order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()

	// The PostGIS engine keeps the words of an incident's title and
	// description (SearchLexemes) in a tsvector column, written by its
	// searchWords: the copy writes it the same way from the same columns.
	search := to == "postgres" && t.name == "incidents"
	width := len(t.cols)
	if search {
		width++
	}
	// SQLite binds at most 32,766 parameters a statement, PostgreSQL 65,535.
	if batchRows <= 0 {
		batchRows = min(1000, 30000/width)
	}
	head := `INSERT INTO ` + t.name + ` (` + strings.Join(names, ", ")
	if search {
		head += ", search"
	}
	head += `)`
	if to == "postgres" && t.always {
		head += ` OVERRIDING SYSTEM VALUE`
	}
	head += ` VALUES `

	scan := make([]any, len(t.cols))
	for i, c := range t.cols {
		switch {
		case c.kind == colTime && from == "postgres":
			scan[i] = new(sql.NullTime)
		case c.kind == colTime || c.kind == colInt:
			scan[i] = new(sql.NullInt64)
		case c.kind == colFloat:
			scan[i] = new(sql.NullFloat64)
		default:
			scan[i] = new(sql.NullString)
		}
	}
	title, description := -1, -1
	for i, c := range t.cols {
		switch c.name {
		case "title":
			title = i
		case "description":
			description = i
		}
	}

	var n int64
	args := make([]any, 0, batchRows*width)
	inBatch := 0
	flush := func() error {
		if inBatch == 0 {
			return nil
		}
		var b strings.Builder
		b.WriteString(head)
		for r := 0; r < inBatch; r++ {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for c := 0; c < width; c++ {
				if c > 0 {
					b.WriteByte(',')
				}
				ph := "?"
				if to == "postgres" {
					ph = "$" + strconv.Itoa(r*width+c+1)
				}
				if search && c == len(t.cols) {
					ph = `array_to_tsvector(string_to_array(` + ph + `, ' '))`
				}
				b.WriteString(ph)
			}
			b.WriteByte(')')
		}
		if _, err := dtx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
		args, inBatch = args[:0], 0
		report(n)
		return nil
	}
	for rows.Next() {
		if err := rows.Scan(scan...); err != nil {
			return n, err
		}
		for i, c := range t.cols {
			args = append(args, copyValue(scan[i], c.kind, to))
		}
		if search {
			text := scan[title].(*sql.NullString).String + " " + scan[description].(*sql.NullString).String
			args = append(args, strings.Join(SearchLexemes(text), " "))
		}
		n++
		if inBatch++; inBatch == batchRows {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// copyValue is a scanned value as the destination binds it: NULL as nil,
// a time as microseconds on SQLite and as a UTC time on PostgreSQL.
func copyValue(v any, kind colKind, to string) any {
	switch v := v.(type) {
	case *sql.NullTime:
		if !v.Valid {
			return nil
		}
		if to == "postgres" {
			return v.Time.UTC()
		}
		return v.Time.UnixMicro()
	case *sql.NullInt64:
		if !v.Valid {
			return nil
		}
		if kind == colTime && to == "postgres" {
			return fromMicros(v.Int64)
		}
		return v.Int64
	case *sql.NullFloat64:
		if !v.Valid {
			return nil
		}
		return v.Float64
	case *sql.NullString:
		if !v.Valid {
			return nil
		}
		return v.String
	}
	panic(fmt.Sprintf("copyValue: %T", v))
}
