package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
)

// treeEntry is an incidents R*Tree row as SQLite reads it back.
type treeEntry struct {
	ID                                         int64
	MinLon, MaxLon, MinLat, MaxLat, MinT, MaxT float64
}

func treeEntries(t *testing.T, s *Store) []treeEntry {
	t.Helper()
	var es []treeEntry
	if err := s.write.Raw(`SELECT id, min_lon, max_lon, min_lat, max_lat, min_t, max_t FROM incidents_rtree ORDER BY id`).Scan(&es).Error; err != nil {
		t.Fatal(err)
	}
	return es
}

// checkTree fails unless SQLite's own check passes on the incidents
// R*Tree, it is not marked stale, and it holds exactly the live incidents'
// boxes as the insert trigger writes them.
func checkTree(t *testing.T, s *Store) {
	t.Helper()
	var check string
	if err := s.write.Raw(`SELECT rtreecheck('incidents_rtree')`).Row().Scan(&check); err != nil || check != "ok" {
		t.Errorf("rtreecheck: %q %v", check, err)
	}
	if current, err := s.incidentTreeCurrent(context.Background()); err != nil || !current {
		t.Errorf("tree current: %v %v, want true", current, err)
	}
	if !hasTimeIndex(t, s) {
		t.Errorf("the rebuild left the %s index out", timeIndex)
	}
	var want []treeEntry
	if err := s.write.Raw(`SELECT id, lon AS min_lon, lon AS max_lon, lat AS min_lat, lat AS max_lat,
		occurred_at / 31557600e6 AS min_t, occurred_at / 31557600e6 AS max_t
		FROM incidents WHERE deleted_at IS NULL ORDER BY id`).Scan(&want).Error; err != nil {
		t.Fatal(err)
	}
	for i := range want {
		w := &want[i]
		w.MinLon, w.MaxLon = float64(roundDown32(w.MinLon)), float64(roundUp32(w.MaxLon))
		w.MinLat, w.MaxLat = float64(roundDown32(w.MinLat)), float64(roundUp32(w.MaxLat))
		w.MinT, w.MaxT = float64(roundDown32(w.MinT)), float64(roundUp32(w.MaxT))
	}
	got := treeEntries(t, s)
	if !slices.Equal(got, want) {
		t.Errorf("tree holds %d entries, want the %d live incidents' boxes", len(got), len(want))
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("first difference: %+v, want %+v", got[i], want[i])
				break
			}
		}
	}
}

// edgeIncidents lie where rounding to 32 bits and the tree's axes meet
// their limits: both sides of the antimeridian, the poles, zero, values no
// float32 holds, and times before 1970 (negative on the time axis).
func edgeIncidents() []*domain.Incident {
	places := [][3]float64{
		{-180, -90, -1}, {180, 90, 1}, {0, 0, 0}, {179.9999999, -89.9999999, -30},
		{-0.1, 0.1, 12.3}, {44.3661, 33.3152, 45.2}, {-122.4194155, 37.7749295, -0.5},
	}
	var out []*domain.Incident
	for i, p := range places {
		at := time.Unix(int64(p[2]*31557600), 0).UTC()
		out = append(out, &domain.Incident{Location: orb.Point{p[0], p[1]}, Type: "protest",
			Title: "edge " + string(rune('a'+i)), OccurredAt: at})
	}
	return out
}

func importDirect(t *testing.T, s *Store, incs []*domain.Incident) {
	t.Helper()
	for batch := range slices.Chunk(incs, 500) {
		results, err := s.ImportIncidents(context.Background(), batch, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Outcome != domain.ImportCreated {
				t.Fatalf("import: %+v", r)
			}
		}
	}
}

// TestRebuildIncidentTree: a packed tree holds the very entries the
// trigger wrote, passes SQLite's rtreecheck at every size (empty, a root
// leaf, a full leaf, a second level, a third) and with ids far apart, and
// SQLite's own inserts, moves and deletes work on it afterwards.
func TestRebuildIncidentTree(t *testing.T) {
	for _, tc := range []struct {
		n      int
		sparse bool // a few ids millions apart (copied from PostGIS, whose sequences skip)
	}{{0, false}, {1, false}, {45, false}, {46, false}, {3000, false}, {300, true}} {
		n := tc.n
		s := openTestStoreWith(t, Options{NoGrid: true})
		ctx := context.Background()
		incs := edgeIncidents()
		for _, inc := range seeds.Synthetic(n, 5) {
			incs = append(incs, inc)
		}
		incs = incs[:n]
		importDirect(t, s, incs)
		if tc.sparse {
			for _, id := range []int64{7_000_000, 90_000_000} {
				if err := s.write.Exec(`INSERT INTO incidents (id, lon, lat, type, title, occurred_at, time_precision,
					location_precision, severity, status, created_at, updated_at, version)
					VALUES (?, 44.4, 33.3, 'protest', 'far id', 1, 'exact', 'exact', 1, 'reported', 1, 1, 1)`, id).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		before := treeEntries(t, s)
		if err := markTreeStale(s.write, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.rebuildIncidentTree(ctx); err != nil {
			t.Fatalf("%d incidents: %v", n, err)
		}
		checkTree(t, s)
		checkTreeExtent(t, s)
		if after := treeEntries(t, s); !slices.Equal(after, before) {
			t.Errorf("%d incidents: the packed tree holds %d entries, the trigger's %d, or other boxes", n, len(after), len(before))
		}
		var root []byte
		var nodes int
		s.write.Raw(`SELECT data FROM incidents_rtree_node WHERE nodeno = 1`).Row().Scan(&root)
		s.write.Raw(`SELECT count(*) FROM incidents_rtree_node`).Row().Scan(&nodes)
		depth := int(binary.BigEndian.Uint16(root))
		if wantDepth := map[int]int{0: 0, 1: 0, 45: 0, 46: 1, 3000: 2, 300: 1}[n]; depth != wantDepth {
			t.Errorf("%d incidents: depth %d, want %d (%d nodes)", n, depth, wantDepth, nodes)
		}

		// The trigger's writes on the packed tree.
		more := edgeIncidents()
		for _, inc := range seeds.Synthetic(200, 6) {
			inc.ExternalID = nil // new records, not updates of the first ones
			more = append(more, inc)
		}
		importDirect(t, s, more)
		var ids []int64
		s.write.Raw(`SELECT id FROM incidents ORDER BY id LIMIT 150`).Scan(&ids)
		for i, id := range ids {
			switch i % 3 {
			case 0:
				if err := s.DeleteIncident(ctx, id, 0); err != nil {
					t.Fatal(err)
				}
			case 1:
				inc, err := s.findIncident(ctx, s.write, id)
				if err != nil {
					t.Fatal(err)
				}
				inc.Location = orb.Point{-inc.Location.Lon(), -inc.Location.Lat()}
				if err := s.ReplaceIncident(ctx, id, inc, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		checkTree(t, s)
		checkTreeExtent(t, s)
	}
}

// checkTreeExtent checks that the extent read from the R*Tree is the exact
// box of the live rows.
func checkTreeExtent(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	tree, err := s.IncidentExtent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.rowExtent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if (tree.BBox == nil) != (rows.BBox == nil) || (tree.BBox != nil && *tree.BBox != *rows.BBox) {
		t.Errorf("extent from the tree %v, from the rows %v", tree.BBox, rows.BBox)
	}
}

// TestStaleTreeReads: while the tree is marked stale, incidents written
// since are missing from it, and every read that prefilters with it —
// a bbox page with and without other filters, a radius, CQL2's
// S_INTERSECTS, the collection's extent — tests the rows instead and
// finds them. Opening the database leaves a mark an import renewed a
// moment ago (that import rebuilds when it ends) and rebuilds an abandoned
// one.
func TestStaleTreeReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stale.db")
	s, err := Open(path, Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	importDirect(t, s, edgeIncidents()[5:6]) // Baghdad, in the tree
	if err := markTreeStale(s.write, time.Now()); err != nil {
		t.Fatal(err)
	}
	basra := &domain.Incident{Location: orb.Point{47.78, 30.51}, Type: "indirect_fire", Title: "rockets near the consulate",
		OccurredAt: time.Date(2018, 9, 28, 0, 0, 0, 0, time.UTC)}
	if err := s.CreateIncident(ctx, basra); err != nil {
		t.Fatal(err)
	}
	var inTree int
	s.write.Raw(`SELECT count(*) FROM incidents_rtree`).Row().Scan(&inTree)
	if inTree != 1 {
		t.Fatalf("the tree holds %d entries while stale, want the 1 written before", inTree)
	}
	iraq := []orb.Bound{{Min: orb.Point{38, 29}, Max: orb.Point{49, 38}}}
	year := &domain.TimeRange{Start: ptr(time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)), End: ptr(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC))}
	for _, tc := range []struct {
		name string
		f    domain.IncidentFilter
		want int
	}{
		{"bbox", domain.IncidentFilter{BBox: iraq}, 2},
		{"bbox and datetime", domain.IncidentFilter{BBox: iraq, Time: year}, 1},
		{"bbox and type", domain.IncidentFilter{BBox: iraq, Types: []domain.IncidentType{"indirect_fire"}}, 1},
		{"near", domain.IncidentFilter{Near: &domain.Near{Center: orb.Point{47.8, 30.5}, RadiusM: 10000}}, 1},
		{"S_INTERSECTS", domain.IncidentFilter{Where: domain.Spatial{Op: "intersects", Property: "geometry",
			Geometry: orb.Polygon{{{47, 30}, {48, 30}, {48, 31}, {47, 31}, {47, 30}}}}}, 1},
	} {
		tc.f.Page.Limit = 10
		page, err := s.FindIncidents(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(page.Items) != tc.want || page.Matched != tc.want {
			t.Errorf("%s: %d incidents, numberMatched %d, want %d", tc.name, len(page.Items), page.Matched, tc.want)
		}
	}
	ext, err := s.IncidentExtent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ext.BBox == nil || ext.BBox[2] < 47.78 || ext.BBox[1] > 30.51 {
		t.Errorf("extent %v leaves out the incident written while the tree was stale", ext.BBox)
	}
	baghdad := edgeIncidents()[5].OccurredAt
	if ext.Start == nil || ext.End == nil || !ext.Start.Equal(baghdad) || !ext.End.Equal(basra.OccurredAt) {
		t.Errorf("time span %v – %v, want %v – %v", ext.Start, ext.End, baghdad, basra.OccurredAt)
	}
	if hasTimeIndex(t, s) {
		t.Errorf("the %s index is still there while the tree is marked stale", timeIndex)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	if current, err := s.incidentTreeCurrent(ctx); err != nil || current {
		t.Errorf("Open rebuilt a tree an import marked a moment ago (current %v, %v)", current, err)
	}
	if err := markTreeStale(s.write, time.Now().Add(-treeAbandonedAfter)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkTree(t, s)
}

func ptr[T any](v T) *T { return &v }

func hasTimeIndex(t *testing.T, s *Store) bool {
	t.Helper()
	var n int
	if err := s.read.Raw(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, timeIndex).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestReadsWithoutTheTimeIndex: every read that walks the occurred_at
// index answers as it did with it, when an import dropped it — marked, as
// an import leaves it, or unmarked, as a reader finds it when the import's
// drop lands between its check of the mark and its query — on the grid's
// wide path, the R*Tree's path past TreeSortMax, and a server's grid built
// while it is away.
func TestReadsWithoutTheTimeIndex(t *testing.T) {
	ctx := context.Background()
	var incs []*domain.Incident
	for i := range 60 {
		incs = append(incs, &domain.Incident{Location: orb.Point{40 + float64(i%10), 30 + float64(i/10)}, Type: "protest",
			Title: fmt.Sprintf("incident %d", i), OccurredAt: time.Date(2018, time.Month(1+i%12), 1+i%28, i%24, 0, 0, 0, time.UTC)})
	}
	everywhere := []orb.Bound{{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}}
	for _, tc := range []struct {
		name   string
		opts   Options
		marked bool
	}{
		{"grid wide path, marked", Options{GridMergeCells: -1}, true},
		{"grid wide path, unmarked", Options{GridMergeCells: -1}, false},
		{"tree past TreeSortMax, unmarked", Options{NoGrid: true, TreeSortMax: 1}, false},
		{"no tree, no grid, marked", Options{NoGrid: true, TreeSortMax: 1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "walk.db")
			tc.opts.Durability = DurabilityNormal
			s := openAt(t, path, tc.opts)
			importDirect(t, s, incs)
			if !tc.opts.NoGrid {
				<-s.GridReady()
			}
			year := &domain.TimeRange{Start: ptr(time.Date(2018, 3, 1, 0, 0, 0, 0, time.UTC)), End: ptr(time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC))}
			filters := []domain.IncidentFilter{
				{BBox: everywhere, SortBy: domain.SortOccurredAt},
				{BBox: everywhere},
				{}, // the plain listing, newest first
				{SortBy: domain.SortOccurredAt, Page: domain.Page{Offset: 40}},
				{Time: year},
				{Types: []domain.IncidentType{"protest"}, SeverityMin: ptr(1)},
			}
			// find gives each filter's page of ids and numberMatched.
			find := func() [][]int64 {
				t.Helper()
				var out [][]int64
				for _, f := range filters {
					f.Page.Limit = 25
					page, err := s.FindIncidents(ctx, f)
					if err != nil {
						t.Fatalf("%+v: %v", f, err)
					}
					ids := []int64{int64(page.Matched)}
					for _, h := range page.Items {
						ids = append(ids, h.ID)
					}
					out = append(out, ids)
				}
				return out
			}
			before := find()
			if tc.marked {
				if err := markTreeStale(s.write, time.Now()); err != nil {
					t.Fatal(err)
				}
			} else if err := s.write.Exec(`DROP INDEX ` + timeIndex).Error; err != nil {
				t.Fatal(err)
			}
			if hasTimeIndex(t, s) {
				t.Fatal("the index is still there")
			}
			for i, got := range find() {
				if !slices.Equal(got, before[i]) {
					t.Errorf("%+v without the index: matched, ids %v, want %v", filters[i], got, before[i])
				}
			}
			if tc.opts.NoGrid || !tc.marked {
				return
			}
			// A server opened while the import runs builds its grid
			// from the table.
			other := openAt(t, path, tc.opts)
			<-other.GridReady()
			s = other
			for i, got := range find() {
				if !slices.Equal(got, before[i]) {
					t.Errorf("%+v, grid built without the index: matched, ids %v, want %v", filters[i], got, before[i])
				}
			}
		})
	}
}

// TestRoundingLikeSQLite: roundDown32 and roundUp32 give the float32 that
// SQLite's R*Tree stores for a value, on values no float32 holds, on both
// signs and next to zero.
func TestRoundingLikeSQLite(t *testing.T) {
	s := openTestStore(t)
	if err := s.write.Exec(`CREATE VIRTUAL TABLE temp.r USING rtree(id, lo, hi)`).Error; err != nil {
		t.Fatal(err)
	}
	values := []float64{0, 1, -1, 0.1, -0.1, 1e-40, -1e-40, 44.3661, -122.4194155, 179.9999999, -89.9999999,
		48.66, math.Pi * 1e6, -math.E * 1e-3, math.MaxFloat32, 16777217}
	for i, v := range values {
		if err := s.write.Exec(`INSERT INTO temp.r VALUES (?, ?, ?)`, i, v, v).Error; err != nil {
			t.Fatal(err)
		}
		var lo, hi float64
		if err := s.write.Raw(`SELECT lo, hi FROM temp.r WHERE id = ?`, i).Row().Scan(&lo, &hi); err != nil {
			t.Fatal(err)
		}
		if float32(lo) != roundDown32(v) || float32(hi) != roundUp32(v) {
			t.Errorf("%g: SQLite stores [%g, %g], ours [%g, %g]", v, lo, hi, roundDown32(v), roundUp32(v))
		}
		if float64(roundDown32(v)) > v || float64(roundUp32(v)) < v {
			t.Errorf("%g: [%g, %g] does not contain it", v, roundDown32(v), roundUp32(v))
		}
	}
}

// TestServerRebuildsAbandonedTree: a server (a store with the grid) leaves
// a tree an import marked recently alone, rebuilds one whose mark has not
// been renewed for treeAbandonedAfter, and a rebuild finds nothing to do
// once the mark is gone (another process rebuilt while it waited).
func TestServerRebuildsAbandonedTree(t *testing.T) {
	defer func(every, after time.Duration) { treeWatchEvery, treeAbandonedAfter = every, after }(treeWatchEvery, treeAbandonedAfter)
	treeWatchEvery, treeAbandonedAfter = 20*time.Millisecond, time.Minute
	s := openTestStore(t)
	ctx := context.Background()
	importDirect(t, s, edgeIncidents())
	current := func() bool {
		ok, err := s.incidentTreeCurrent(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	if err := markTreeStale(s.write, time.Now()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if current() {
		t.Fatal("the server rebuilt a tree an import marked a moment ago")
	}

	if err := markTreeStale(s.write, time.Now().Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !current() {
		if time.Now().After(deadline) {
			t.Fatal("the server left an abandoned mark for 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkTree(t, s)

	var nodes int
	s.write.Raw(`SELECT count(*) FROM incidents_rtree_node`).Row().Scan(&nodes)
	if err := s.write.Exec(`INSERT INTO incidents_rtree_node (nodeno, data) SELECT 999, data FROM incidents_rtree_node WHERE nodeno = 1`).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.rebuildIncidentTree(ctx); err != nil {
		t.Fatal(err)
	}
	var after int
	s.write.Raw(`SELECT count(*) FROM incidents_rtree_node`).Row().Scan(&after)
	if after != nodes+1 {
		t.Errorf("a rebuild without a mark rewrote the tree (%d nodes, %d before it)", after, nodes+1)
	}
	s.write.Exec(`DELETE FROM incidents_rtree_node WHERE nodeno = 999`)
}

// TestOpenBesideAWriter: a database already up to date opens while another
// connection holds the write lock past the busy timeout, as an import
// does nearly all the time: neither the migrations nor the planner's
// statistics wait for the lock.
func TestOpenBesideAWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	s, err := Open(path, Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	importDirect(t, s, edgeIncidents())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	holder, err := sql.Open(driverName, "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE live_counts SET n = n`); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Durability: DurabilityNormal, BusyTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open while another connection writes: %v", err)
	}
	defer s.Close()
	page, err := s.FindIncidents(context.Background(), domain.IncidentFilter{Page: domain.Page{Limit: 100}})
	if err != nil || len(page.Items) != len(edgeIncidents()) {
		t.Fatalf("read %v incidents (%v), want %d", page, err, len(edgeIncidents()))
	}
}
