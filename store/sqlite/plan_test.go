package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// capturedQuery is one statement the read pool ran, with its arguments.
type capturedQuery struct {
	sql  string
	vars []any
}

// captureReads records every raw row query run on the read pool, so a test
// can look at exactly the SQL that FindIncidents built.
func captureReads(t *testing.T, s *Store) func() []capturedQuery {
	t.Helper()
	var mu sync.Mutex
	var got []capturedQuery
	err := s.read.Callback().Row().After("gorm:row").Register("test:capture", func(db *gorm.DB) {
		if strings.HasPrefix(db.Statement.SQL.String(), "EXPLAIN") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, capturedQuery{db.Statement.SQL.String(), append([]any(nil), db.Statement.Vars...)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() []capturedQuery {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

// queryPlan returns the EXPLAIN QUERY PLAN lines of q on the read pool.
func queryPlan(t *testing.T, s *Store, q capturedQuery) []string {
	t.Helper()
	return queryPlanOn(t, s.read, q)
}

// queryPlanOn returns the EXPLAIN QUERY PLAN lines of q as db plans it.
func queryPlanOn(t *testing.T, db *gorm.DB, q capturedQuery) []string {
	t.Helper()
	rows, err := db.Raw("EXPLAIN QUERY PLAN "+q.sql, q.vars...).Rows()
	if err != nil {
		t.Fatalf("explain %s: %v", q.sql, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// isTreeProbe tells the one-row read of meta that asks whether the
// R*Tree is current (incidentTreeCurrent) from the queries under test.
func isTreeProbe(sql string) bool { return strings.Contains(sql, "FROM "+treeStaleTable) }

func openTestStore(t *testing.T) *Store {
	t.Helper()
	return openTestStoreWith(t, Options{})
}

func openTestStoreWith(t *testing.T, opts Options) *Store {
	t.Helper()
	opts.Durability = DurabilityNormal
	s, err := Open(filepath.Join(t.TempDir(), "plan.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSpatialQueriesUseTheRTree is a guard that needs no timing: the SQL
// FindIncidents builds for bbox, bbox+datetime and near queries must never
// scan the incidents table. With the grid, rows are read by id only; without
// it (while it builds), the R*Tree answers.
func TestSpatialQueriesUseTheRTree(t *testing.T) {
	for _, withGrid := range []bool{false, true} {
		t.Run(fmt.Sprintf("grid=%v", withGrid), func(t *testing.T) {
			spatialQueryPlans(t, openTestStoreWith(t, Options{NoGrid: !withGrid}), withGrid)
		})
	}
}

func spatialQueryPlans(t *testing.T, s *Store, withGrid bool) {
	ctx := context.Background()
	// A grid of incidents over Iraq, one a day, so the queries below have
	// answers to check against a brute-force filter.
	var all []domain.Incident
	start := time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 120; i++ {
		inc := domain.Incident{
			Location:   orb.Point{40 + float64(i%12), 29 + float64(i/12)*0.5},
			Type:       "indirect_fire",
			Title:      fmt.Sprintf("incident %d", i),
			OccurredAt: start.Add(time.Duration(i) * 24 * time.Hour),
			Severity:   1 + i%5,
		}
		if err := s.CreateIncident(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		all = append(all, inc)
	}
	from, to := start.Add(10*24*time.Hour), start.Add(60*24*time.Hour)
	bbox, err := geo.NewBBox(43, 30, 47, 33)
	if err != nil {
		t.Fatal(err)
	}
	capture := captureReads(t, s)
	tests := []struct {
		name   string
		filter domain.IncidentFilter
		keep   func(domain.Incident) bool
	}{
		{
			name:   "bbox",
			filter: domain.IncidentFilter{BBox: bbox.Bounds()},
			keep:   func(inc domain.Incident) bool { return geo.InBounds(inc.Location, bbox.Bounds()) },
		},
		{
			name:   "bbox and datetime",
			filter: domain.IncidentFilter{BBox: bbox.Bounds(), Time: &domain.TimeRange{Start: &from, End: &to}},
			keep: func(inc domain.Incident) bool {
				return geo.InBounds(inc.Location, bbox.Bounds()) && !inc.OccurredAt.Before(from) && !inc.OccurredAt.After(to)
			},
		},
		{
			name:   "bbox across the antimeridian",
			filter: domain.IncidentFilter{BBox: geo.BBox{MinLon: 170, MinLat: -10, MaxLon: -170, MaxLat: 10}.Bounds()},
			// The fixture lies far from the antimeridian: only the plan
			// of the two-box UNION is of interest here.
			keep: func(domain.Incident) bool { return false },
		},
		{
			name:   "near",
			filter: domain.IncidentFilter{Near: &domain.Near{Center: orb.Point{45, 31}, RadiusM: 120_000}},
			keep:   func(inc domain.Incident) bool { return geo.Distance(orb.Point{45, 31}, inc.Location) <= 120_000 },
		},
		{
			name:   "near sorted by severity",
			filter: domain.IncidentFilter{Near: &domain.Near{Center: orb.Point{45, 31}, RadiusM: 120_000}, SortBy: domain.SortSeverityDesc},
			keep:   func(inc domain.Incident) bool { return geo.Distance(orb.Point{45, 31}, inc.Location) <= 120_000 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			capture()
			f := tt.filter
			f.Page.Limit = 1000
			if f.SortBy == "" {
				f.SortBy = domain.SortOccurredAtDesc
			}
			page, err := s.FindIncidents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, inc := range all {
				if tt.keep(inc) {
					want++
				}
			}
			if want == len(all) || (want == 0 && tt.filter.BBox[0].Min[0] != 170) {
				t.Fatalf("fixture selects %d of %d incidents; the query would prove nothing", want, len(all))
			}
			if page.Matched != want || len(page.Items) != want {
				t.Fatalf("matched %d, returned %d; want %d", page.Matched, len(page.Items), want)
			}
			// Every query either reads the R*Tree through its index or reads
			// incidents by primary key; at least one reads the tree, and
			// none scans the incidents table.
			queries := capture()
			usesTree := false
			for _, q := range queries {
				if isTreeProbe(q.sql) {
					continue
				}
				plan := queryPlan(t, s, q)
				text := strings.Join(plan, "\n")
				t.Logf("%s\nEXPLAIN QUERY PLAN:\n%s", q.sql, text)
				// Index 2 is the R*Tree's constrained search (0 would be a
				// full scan); the tree is aliased r in some queries.
				tree := strings.Contains(text, "incidents_rtree VIRTUAL TABLE INDEX 2:") || strings.Contains(text, "SCAN r VIRTUAL TABLE INDEX 2:")
				usesTree = usesTree || tree
				if !tree && !strings.Contains(text, "SEARCH i USING INTEGER PRIMARY KEY") {
					t.Errorf("query neither uses the R*Tree nor reads by id:\n%s", text)
				}
				for _, line := range plan {
					if line == "SCAN i" || strings.HasPrefix(line, "SCAN i ") || strings.Contains(line, "VIRTUAL TABLE INDEX 0:") {
						t.Errorf("plan scans a whole table (%q):\n%s", line, text)
					}
				}
			}
			if !usesTree && !withGrid {
				t.Errorf("no query used the R*Tree")
			}
			// The grid orders by occurred_at; other sorts take the general plan.
			if usesTree && withGrid && f.SortBy == domain.SortOccurredAtDesc {
				t.Errorf("the grid's answer read the R*Tree")
			}
		})
	}
}

// TestLookupsByKeyIgnoreStaleStatistics: statistics taken while the tables
// held one row made SQLite scan a table for each import batch's lookup of
// its text keys; the lookups must probe by key whatever ANALYZE last saw.
func TestLookupsByKeyIgnoreStaleStatistics(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if _, err := s.ImportIncidents(ctx, []*domain.Incident{importTestIncident("e-1", "one")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.write.Exec(`ANALYZE`).Error; err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, sql, keys string
	}{
		{"actors", lookupActors, `["kataib-hezbollah"]`},
		{"external ids", lookupExternalIDs, `["e-1"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The writer ran ANALYZE, so it plans with what ANALYZE saw.
			plan := queryPlanOn(t, s.write, capturedQuery{tc.sql, []any{tc.keys}})
			if len(plan) == 0 {
				t.Fatal("no plan")
			}
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, "VIRTUAL TABLE") {
					t.Errorf("plan scans a table: %q", plan)
				}
			}
		})
	}
}
