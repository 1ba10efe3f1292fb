package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/store"
)

// An import of many incidents leaves the incidents R*Tree alone and builds
// it afresh when done: SQLite's R*Tree has no bulk load, and an insert
// rewrites at least its leaf node (1,636 bytes) and chooses that leaf by
// testing every cell on the way down, so a million inserts took 19 of a
// 1M import's 59 s (docs/performance.md). Packing the same entries with
// Sort-Tile-Recursive (Leutenegger, Lopez and Edgington, "STR: a simple and
// efficient algorithm for R-tree packing", ICDE 1997) and writing the
// nodes once takes about 2 s, and a packed tree's nodes overlap less.
//
// While the table treeStaleTable holds a row, the incidents R*Tree does
// not follow the table: the triggers of migration 9 skip it, every read that
// would prefilter with it tests the rows' own coordinates instead, and
// rebuildIncidentTree, which empties the table, must run before the tree
// is used again. An import marks the tree in the transactions it writes
// and rebuilds when it ends; Open and a server's watchTree rebuild when the
// mark has not been renewed for treeAbandonedAfter: its import did not end
// (killed, or its machine lost power). The mark is
// this engine's own state: store.Copy does not carry it, as it carries
// meta, to another database.
//
// The mark also stands for the occurred_at index (timeIndex): the import
// drops it in the transaction that first marks the tree, and the rebuild
// creates it again, in one pass over the sorted rows, in the transaction
// that clears the mark. Its random-order inserts cost a 1M import about 4
// of its 34 s, each transaction rewriting most of its leaves. While the
// mark stands, reads that walk the index take another path (the grid's
// cells for its wide boxes, grid.ErrNoWideIDs; the table for its build and
// the extent), a statement naming it that meets the drop halfway runs
// again without it (isNoTimeIndex), and those that merely prefer it, such
// as possibleDuplicates, are planned without it.
const treeStaleTable = "incidents_rtree_stale"

// timeIndex is the incidents' index in page order, (occurred_at, id), which
// covers the coordinates so that a region-wide query tests its box on the
// index entries and reads only the rows of its page; timeIndexDDL creates
// it (migration 1, and rebuildTree after an import).
const (
	timeIndex    = "incidents_occurred_at"
	timeIndexDDL = `CREATE INDEX ` + timeIndex + ` ON incidents(occurred_at, id, lon, lat) WHERE deleted_at IS NULL`
)

// markTreeStale stops the incidents R*Tree's triggers for the rest of tx
// and until rebuildIncidentTree, and stamps the mark with now. An import
// repeats it in each transaction, which keeps the mark when another process
// rebuilt the tree between two of them, and keeps the stamp fresh while the
// import lives (see watchTree).
func markTreeStale(tx *gorm.DB, now time.Time) error {
	// A no-op once dropped: the schema, and the readers' statements
	// prepared against it, change once per import.
	if err := tx.Exec(`DROP INDEX IF EXISTS ` + timeIndex).Error; err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO `+treeStaleTable+` (mark, at) VALUES (1, ?) ON CONFLICT (mark) DO UPDATE SET at = excluded.at`,
		micros(now)).Error
}

// A server rebuilds the tree itself when an import's mark has not been
// renewed for treeAbandonedAfter: the import was killed, or its machine
// lost power, and only the next Open would notice otherwise. It looks every
// treeWatchEvery. A live import renews the mark at each of its
// transactions, about every second; should one stall that long and the
// server rebuild meanwhile, the import marks the tree again and rebuilds
// it when it ends, so nothing is lost but time.
var (
	treeWatchEvery     = 15 * time.Second
	treeAbandonedAfter = time.Minute
)

// watchTree rebuilds an abandoned stale tree until stop is closed.
func (s *Store) watchTree(stop <-chan struct{}) {
	t := time.NewTicker(treeWatchEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if s.treeAbandoned(context.Background()) {
			// An error leaves the mark, and the next tick tries again.
			s.rebuildIncidentTree(context.Background())
		}
	}
}

// incidentTreeCurrent reports whether the incidents R*Tree holds every
// live incident, which is all but while an import of many runs.
func (s *Store) incidentTreeCurrent(ctx context.Context) (bool, error) {
	var stale bool
	err := store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM ` + treeStaleTable + `)`).Rows()).Scan(&stale)
	return !stale, err
}

// incidentTree names the incidents R*Tree for a query to prefilter with,
// or "" while it is stale.
func (s *Store) incidentTree(ctx context.Context) (string, error) {
	current, err := s.incidentTreeCurrent(ctx)
	if !current || err != nil {
		return "", err
	}
	return "incidents_rtree", nil
}

// finishTreeRebuild rebuilds the incidents R*Tree when an import left it
// stale and has not renewed the mark for treeAbandonedAfter (see
// watchTree): an import that still runs rebuilds it when it ends, and a
// rebuild meanwhile would only hold its writes. When the write lock stays
// out of reach, a later Open or a server's watchTree rebuilds.
func (s *Store) finishTreeRebuild() error {
	ctx := context.Background()
	if !s.treeAbandoned(ctx) {
		return nil
	}
	if err := s.rebuildIncidentTree(ctx); err != nil && !isBusy(err) {
		return err
	}
	return nil
}

// treeAbandoned reports whether the tree is marked stale by an import that
// has not renewed the mark for treeAbandonedAfter. An error reading the
// mark counts as no: the read path reads it again for each query.
func (s *Store) treeAbandoned(ctx context.Context) bool {
	var at *int64
	err := store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT (SELECT at FROM ` + treeStaleTable + `)`).Rows()).Scan(&at)
	return err == nil && at != nil && s.now().Sub(time.UnixMicro(*at)) >= treeAbandonedAfter
}

// rebuildIncidentTree replaces the incidents R*Tree's nodes with a tree
// packed from every live incident and clears treeStaleTable, in one write
// transaction, so readers see the old tree or the whole new one. A tree
// that another process rebuilt while this one waited for the write lock is
// left as it is.
func (s *Store) rebuildIncidentTree(ctx context.Context) error {
	db, err := s.write.DB()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rebuild the incidents R*Tree: %w", err)
	}
	if err := rebuildTree(ctx, tx); err != nil {
		// A cancelled ctx has made database/sql roll back already.
		if rb := tx.Rollback(); !errors.Is(rb, sql.ErrTxDone) {
			err = errors.Join(err, rb)
		}
		return fmt.Errorf("rebuild the incidents R*Tree: %w", err)
	}
	return tx.Commit()
}

// createTimeIndex creates timeIndex unless it exists: an import of a build
// before it stood for the mark left it in place.
func createTimeIndex(ctx context.Context, tx *sql.Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, timeIndex).Scan(&n); err != nil || n > 0 {
		return err
	}
	// SQLite sorts the new index's entries in memory up to the page
	// cache's size, then in runs merged from temporary files: a smaller
	// cache for the sort keeps an ACLED import's rebuild within its
	// memory budget (docs/performance.md).
	var cache int
	if err := tx.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, -timeIndexSortKiB)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, timeIndexDDL)
	if _, rerr := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, cache)); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("create the occurred_at index: %w", err)
	}
	return nil
}

// timeIndexSortKiB is the page cache while createTimeIndex sorts.
const timeIndexSortKiB = 8 << 10

// treeCell is an R*Tree cell: a row id (in a leaf) or a child node number,
// and its box as the tree stores it, [min, max] per dimension in 32-bit
// floats.
type treeCell struct {
	id  int64
	box [6]float32
}

// incidentTreeDims are the incidents R*Tree's dimensions: lon, lat and
// occurred_at in years (migration 2).
const incidentTreeDims = 3

func rebuildTree(ctx context.Context, tx *sql.Tx) error {
	var stale bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+treeStaleTable+`)`).Scan(&stale); err != nil || !stale {
		return err
	}
	// The index first: a sort of the live rows and one sequential write,
	// which then serves the tree's own read below.
	if err := createTimeIndex(ctx, tx); err != nil {
		return err
	}
	var nodeSize int
	if err := tx.QueryRowContext(ctx, `SELECT length(data) FROM incidents_rtree_node WHERE nodeno = 1`).Scan(&nodeSize); err != nil {
		return fmt.Errorf("root node: %w", err)
	}
	// Node layout (SQLite's rtree.c): a 2-byte depth (root only), a 2-byte
	// cell count, then cells of an 8-byte id and two 4-byte coordinates per
	// dimension, all big-endian.
	cellSize := 8 + 8*incidentTreeDims
	capacity := (nodeSize - 4) / cellSize
	if capacity < 4 {
		return fmt.Errorf("root node of %d bytes", nodeSize)
	}
	// The rebuild's memory is mostly these cells (32 bytes an incident):
	// sized once, sorted in place, and the leaves are slices of them.
	var live int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT n FROM live_counts WHERE collection = 'incidents'), 0)`).Scan(&live); err != nil {
		return err
	}
	cells := make([]treeCell, 0, live)
	if err := func() error {
		// The occurred_at index covers id, lon and lat, and holds live
		// rows only, as the tree does.
		rows, err := tx.QueryContext(ctx, `SELECT id, lon, lat, occurred_at FROM incidents INDEXED BY `+timeIndex+` WHERE deleted_at IS NULL`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c treeCell
			var lon, lat float64
			var at int64
			if err := rows.Scan(&c.id, &lon, &lat, &at); err != nil {
				return err
			}
			t := float64(at) / microsPerTreeYear
			c.box = [6]float32{roundDown32(lon), roundUp32(lon), roundDown32(lat), roundUp32(lat), roundDown32(t), roundUp32(t)}
			cells = append(cells, c)
		}
		return rows.Err()
	}(); err != nil {
		return fmt.Errorf("read incidents: %w", err)
	}
	levels := packTree(cells, incidentTreeDims, max(2, capacity*9/10))
	for _, q := range []string{`DELETE FROM incidents_rtree_node`, `DELETE FROM incidents_rtree_rowid`, `DELETE FROM incidents_rtree_parent`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if err := writeTree(ctx, tx, levels, nodeSize, cellSize); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM `+treeStaleTable)
	return err
}

// roundDown32 and roundUp32 are SQLite's rtreeValueDown and rtreeValueUp:
// the nearest float32, moved one step outwards when rounding went the
// other way, so the stored box always contains the value and a packed tree
// holds the very boxes its insert trigger would.
func roundDown32(d float64) float32 {
	f := float32(d)
	if float64(f) > d {
		f = stepFloat32(f, -1)
	}
	return f
}

func roundUp32(d float64) float32 {
	f := float32(d)
	if float64(f) < d {
		f = stepFloat32(f, +1)
	}
	return f
}

// stepFloat32 moves f one unit in the last place towards the sign of dir,
// as rtree.c does on the bits (negative numbers grow with their bits).
func stepFloat32(f float32, dir int) float32 {
	x := math.Float32bits(f)
	negative := x&0x80000000 != 0
	if (dir < 0) != negative {
		x--
	} else {
		x++
	}
	return math.Float32frombits(x)
}

// A treeNode is one packed node: its cells, and its number once written.
type treeNode struct {
	cells []treeCell
	no    int64
}

// packTree packs cells into nodes of at most fill cells, level by level
// from the leaves, with STR: sort by the first dimension's centres, cut
// into slabs, sort each slab by the next dimension, and so on. It returns
// the levels, leaves first; the last level holds the one root node.
func packTree(cells []treeCell, dims, fill int) [][]treeNode {
	var levels [][]treeNode
	for {
		var nodes []treeNode
		strTile(cells, 0, dims, fill, func(group []treeCell) {
			nodes = append(nodes, treeNode{cells: group})
		})
		if len(nodes) == 0 { // an empty tree: one empty root leaf
			nodes = []treeNode{{}}
		}
		levels = append(levels, nodes)
		if len(nodes) == 1 {
			return levels
		}
		cells = make([]treeCell, len(nodes))
		for i := range nodes {
			cells[i] = treeCell{id: int64(i), box: boundsOf(nodes[i].cells, dims)}
		}
	}
}

// strTile sorts cells by dimension dim and hands emit groups of at most
// fill cells, tiling the remaining dimensions within each slab.
func strTile(cells []treeCell, dim, dims, fill int, emit func([]treeCell)) {
	if len(cells) == 0 {
		return
	}
	sortByCentre(cells, dim)
	if dim == dims-1 {
		for len(cells) > 0 {
			n := min(fill, len(cells))
			emit(cells[:n:n]) // nothing sorts this range again
			cells = cells[n:]
		}
		return
	}
	nodes := (len(cells) + fill - 1) / fill
	slabs := int(math.Ceil(math.Pow(float64(nodes), 1/float64(dims-dim))))
	perSlab := ((nodes + slabs - 1) / slabs) * fill
	for len(cells) > 0 {
		n := min(perSlab, len(cells))
		strTile(cells[:n], dim+1, dims, fill, emit)
		cells = cells[n:]
	}
}

// sortByCentre sorts cells by the centre of their extent in dim. It sorts
// 8-byte keys — the centre's bits made to order as unsigned integers, and
// the cell's index — then moves the cells along the permutation's cycles:
// a sort of the 32-byte cells through a comparison function took most of
// a rebuild's time.
func sortByCentre(cells []treeCell, dim int) {
	keys := make([]uint64, len(cells))
	for i := range cells {
		bits := math.Float32bits(cells[i].box[2*dim]/2 + cells[i].box[2*dim+1]/2)
		if bits&0x80000000 != 0 {
			bits = ^bits
		} else {
			bits |= 0x80000000
		}
		keys[i] = uint64(bits)<<32 | uint64(i)
	}
	slices.Sort(keys)
	// Position j takes the cell at from(j); a position done points to itself.
	from := func(j int) int { return int(uint32(keys[j])) }
	for i := range keys {
		if from(i) == i {
			continue
		}
		held := cells[i]
		j := i
		for {
			k := from(j)
			keys[j] = uint64(j)
			if k == i {
				cells[j] = held
				break
			}
			cells[j] = cells[k]
			j = k
		}
	}
}

func boundsOf(cells []treeCell, dims int) [6]float32 {
	var b [6]float32
	for i, c := range cells {
		for d := range dims {
			if i == 0 || c.box[2*d] < b[2*d] {
				b[2*d] = c.box[2*d]
			}
			if i == 0 || c.box[2*d+1] > b[2*d+1] {
				b[2*d+1] = c.box[2*d+1]
			}
		}
	}
	return b
}

// writeTree numbers the nodes (the root is node 1, as SQLite requires) and
// writes them, each leaf cell's node to the rowid table and each non-root
// node's parent to the parent table.
func writeTree(ctx context.Context, tx *sql.Tx, levels [][]treeNode, nodeSize, cellSize int) error {
	root := len(levels) - 1
	levels[root][0].no = 1
	next := int64(2)
	for l := root - 1; l >= 0; l-- {
		for i := range levels[l] {
			levels[l][i].no = next
			next++
		}
	}
	nodes := newBatchInsert(tx, `incidents_rtree_node`, `nodeno, data`, 2)
	parents := newBatchInsert(tx, `incidents_rtree_parent`, `nodeno, parentnode`, 2)
	for l := root; l >= 0; l-- {
		for _, n := range levels[l] {
			data := make([]byte, nodeSize)
			if l == root {
				binary.BigEndian.PutUint16(data[0:], uint16(root))
			}
			binary.BigEndian.PutUint16(data[2:], uint16(len(n.cells)))
			for i, c := range n.cells {
				cell := data[4+i*cellSize:]
				id := c.id
				if l > 0 { // an inner cell names its child by node number
					id = levels[l-1][c.id].no
					if err := parents.add(ctx, id, n.no); err != nil {
						return err
					}
				}
				binary.BigEndian.PutUint64(cell, uint64(id))
				for j := range (cellSize - 8) / 4 {
					binary.BigEndian.PutUint32(cell[8+4*j:], math.Float32bits(c.box[j]))
				}
			}
			if err := nodes.add(ctx, n.no, data); err != nil {
				return err
			}
		}
	}
	if err := errors.Join(nodes.flush(ctx), parents.flush(ctx)); err != nil {
		return err
	}
	return writeRowids(ctx, tx, levels[0])
}

// writeRowids writes each row id's leaf to the rowid table in ascending
// row id order, which appends to its B-tree. Incident ids are dense, so a
// table indexed by id holds the leaves in 4 bytes an id; should they not
// be, the pairs are sorted instead.
func writeRowids(ctx context.Context, tx *sql.Tx, leaves []treeNode) error {
	first, last, n := int64(math.MaxInt64), int64(math.MinInt64), 0
	for _, l := range leaves {
		for _, c := range l.cells {
			first, last, n = min(first, c.id), max(last, c.id), n+1
		}
	}
	rowids := newBatchInsert(tx, `incidents_rtree_rowid`, `rowid, nodeno`, 2)
	if n == 0 {
		return nil
	}
	if span := last - first + 1; span <= 2*int64(n)+1024 {
		nodeOf := make([]int32, span) // node numbers stay far below 2^31
		for _, l := range leaves {
			for _, c := range l.cells {
				nodeOf[c.id-first] = int32(l.no)
			}
		}
		for i, no := range nodeOf {
			if no != 0 {
				if err := rowids.add(ctx, first+int64(i), int64(no)); err != nil {
					return err
				}
			}
		}
		return rowids.flush(ctx)
	}
	type leafOf struct{ row, node int64 }
	pairs := make([]leafOf, 0, n)
	for _, l := range leaves {
		for _, c := range l.cells {
			pairs = append(pairs, leafOf{c.id, l.no})
		}
	}
	slices.SortFunc(pairs, func(a, b leafOf) int { return cmp.Compare(a.row, b.row) })
	for _, p := range pairs {
		if err := rowids.add(ctx, p.row, p.node); err != nil {
			return err
		}
	}
	return rowids.flush(ctx)
}

// batchInsert writes rows with multi-row INSERTs of up to batchRows rows,
// which pass through cgo far fewer times than one row per statement.
type batchInsert struct {
	tx    *sql.Tx
	table string
	cols  string
	width int
	args  []any
}

const batchRows = 200

func newBatchInsert(tx *sql.Tx, table, cols string, width int) *batchInsert {
	return &batchInsert{tx: tx, table: table, cols: cols, width: width}
}

func (b *batchInsert) add(ctx context.Context, values ...any) error {
	b.args = append(b.args, values...)
	if len(b.args) >= batchRows*b.width {
		return b.flush(ctx)
	}
	return nil
}

func (b *batchInsert) flush(ctx context.Context) error {
	if len(b.args) == 0 {
		return nil
	}
	row := "(" + placeholders(b.width) + ")"
	rows := strings.TrimSuffix(strings.Repeat(row+", ", len(b.args)/b.width), ", ")
	_, err := b.tx.ExecContext(ctx, `INSERT INTO `+b.table+` (`+b.cols+`) VALUES `+rows, b.args...)
	b.args = b.args[:0]
	return err
}
