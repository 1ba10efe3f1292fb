package postgis_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/postgis"
	"github.com/postwatch/postwatch/store/storetest"
)

// TestBBoxCountIsIndexOnly guards what made a 1° box take seconds on 1M
// incidents (docs/performance.md, "PostGIS: what made q2 and q3 slow"):
// after a bulk load and Analyze, the exact count of a box is an index-only
// scan of incidents_lonlat, never a pass over the table, and it still
// counts exactly the rows in the box. The rows are inserted without
// history, which only the SQL path reads straight from the table: the
// grid, which follows history, is off.
func TestBBoxCountIsIndexOnly(t *testing.T) {
	admin(t)
	db := storetest.Open(t)
	ctx := context.Background()
	raw := sqlDB(t, db.DSN)
	// 20,000 incidents on a 200 × 100 grid of 0.1° over 30–50°E, 20–30°N.
	if _, err := raw.ExecContext(ctx, `INSERT INTO incidents (lon, lat, type, title, occurred_at, time_precision,
		location_precision, severity, status, created_at, updated_at, version)
		SELECT 30 + (n % 200) * 0.1, 20 + (n / 200) * 0.1, 'protest', 't' || n, timestamptz '2020-01-01' + n * interval '1 hour',
			'exact', 'exact', 1 + n % 5, 'reported', now(), now(), 1
		FROM generate_series(0, 19999) AS n`); err != nil {
		t.Fatal(err)
	}
	if err := db.Services.(*postgis.Store).Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	rows, err := raw.QueryContext(ctx, `EXPLAIN SELECT count(*) FROM incidents AS i WHERE i.deleted_at IS NULL
		AND ((i.lon BETWEEN $1 AND $2 AND i.lat BETWEEN $3 AND $4))`, 35.0, 36.0, 24.0, 25.0)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	rows.Close()
	if !strings.Contains(plan.String(), "Index Only Scan using incidents_lonlat") || strings.Contains(plan.String(), "Seq Scan") {
		t.Errorf("the count of a 1° box is not an index-only scan of incidents_lonlat:\n%s", plan.String())
	}
	sqlOnly, err := postgis.Open(ctx, db.DSN, postgis.Options{NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sqlOnly.Close()
	page, err := sqlOnly.FindIncidents(ctx, domain.IncidentFilter{BBox: []orb.Bound{{Min: orb.Point{35, 24}, Max: orb.Point{36, 25}}},
		Page: domain.Page{Limit: 5}})
	if err != nil {
		t.Fatal(err)
	}
	// Columns 50–60 (35.0–36.0°E, both edges in) × rows 40–50 (24.0–25.0°N).
	if page.Matched != 11*11 || len(page.Items) != 5 {
		t.Errorf("matched %d, %d items; want 121 and 5", page.Matched, len(page.Items))
	}
	for i := 1; i < len(page.Items); i++ {
		if !page.Items[i].OccurredAt.Before(page.Items[i-1].OccurredAt) {
			t.Errorf("items not newest first: %v then %v", page.Items[i-1].OccurredAt, page.Items[i].OccurredAt)
		}
	}
}

// TestPlansByStatement guards which statements PostgreSQL may plan once:
// the read by id is a named statement whose generic plan is kept (planning
// it at every call cost a third of its server time), while items queries
// run as the unnamed statement, planned for their parameters every time
// (a generic plan made for a small box took the region's page from 10 ms
// to 1 s). A URL that sets default_query_exec_mode itself, for a pooler
// that cannot hold named statements, gets no named statement at all.
func TestPlansByStatement(t *testing.T) {
	admin(t)
	ctx := context.Background()
	db := storetest.Open(t)
	inc := incident("by id")
	if err := db.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		params    map[string]string
		wantNamed bool
	}{
		{"default", nil, true},
		{"mode set by the URL", map[string]string{"default_query_exec_mode": "exec"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(db.DSN)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			for k, v := range tc.params {
				q.Set(k, v)
			}
			u.RawQuery = q.Encode()
			st, err := postgis.Open(ctx, u.String(), postgis.Options{MaxConns: 1, NoGrid: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			box := domain.IncidentFilter{BBox: []orb.Bound{{Min: orb.Point{44, 33}, Max: orb.Point{45, 34}}}}
			for range 8 {
				got, err := st.FindIncidentByID(ctx, inc.ID)
				if err != nil || got.Title != "by id" {
					t.Fatalf("FindIncidentByID = %v, %v", got, err)
				}
				page, err := st.FindIncidents(ctx, box)
				if err != nil || page.Matched != 1 || len(page.Items) != 1 {
					t.Fatalf("FindIncidents = %+v, %v", page, err)
				}
			}
			generic, _, err := postgis.PreparedPlans(ctx, st, "WHERE i.id = $1")
			if err != nil {
				t.Fatal(err)
			}
			if named := len(generic) > 0; named != tc.wantNamed {
				t.Fatalf("read by id named: %v, want %v", named, tc.wantNamed)
			}
			if tc.wantNamed && generic[0] == 0 {
				t.Errorf("read by id: no generic plan after 8 runs")
			}
			if generic, _, err := postgis.PreparedPlans(ctx, st, "count(*)"); err != nil || len(generic) > 0 {
				t.Errorf("items query prepared by name (%v, %v): PostgreSQL may plan it once for every box", generic, err)
			}
		})
	}
}

// TestPageReadKeepsThePrimaryKeyPlan guards the plan PostgreSQL keeps for
// the read of a page's rows by id (readIncidents: id = ANY ($1), one named
// statement for any number of ids): an index scan of the primary key. It
// is checked where a Seq Scan tempts — 1,001 ids (a page of 1,000 and the
// one that tells more follow) among 2,000 rows, which a plan made for
// those ids reads with one — since the kept plan serves every page after,
// and on a million rows a Seq Scan would read them all for each page.
func TestPageReadKeepsThePrimaryKeyPlan(t *testing.T) {
	admin(t)
	ctx := context.Background()
	db := storetest.Open(t)
	const rows, page = 2000, 1001
	if _, err := sqlDB(t, db.DSN).ExecContext(ctx, `INSERT INTO incidents (lon, lat, type, title, occurred_at, time_precision,
		location_precision, severity, status, created_at, updated_at, version)
		SELECT 30 + (n % 200) * 0.1, 20 + (n / 200) * 0.1, 'protest', 't' || n, timestamptz '2020-01-01' + n * interval '1 hour',
			'exact', 'exact', 1 + n % 5, 'reported', now(), now(), 1
		FROM generate_series(1, $1) AS n`, rows); err != nil {
		t.Fatal(err)
	}
	if err := db.Services.(*postgis.Store).Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := postgis.Open(ctx, db.DSN, postgis.Options{MaxConns: 1, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Every third row round the table (3 and 2,000 are coprime, so no
	// id twice), from a different one each run.
	ids := make([]int64, page)
	for run := range 8 {
		for i := range ids {
			ids[i] = int64(1 + (3*i+run)%rows)
		}
		got, err := postgis.ReadIncidents(ctx, st, ids)
		if err != nil || len(got) != page {
			t.Fatalf("run %d: read %d of %d incidents: %v", run, len(got), page, err)
		}
	}
	const stmt = "i.id = ANY"
	generic, _, err := postgis.PreparedPlans(ctx, st, stmt)
	if err != nil || len(generic) != 1 || generic[0] == 0 {
		t.Fatalf("generic plans of the page read after 8 runs: %v, %v; want one statement that has one", generic, err)
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	arg := "'{" + strings.Join(list, ",") + "}'"
	kept, err := postgis.ExplainPrepared(ctx, st, stmt, "auto", arg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(kept, "ANY ($1)") {
		t.Errorf("the plan of the page read's next run is not the generic one:\n%s", kept)
	}
	if !strings.Contains(kept, "Index Scan using incidents_pkey") || strings.Contains(kept, "Seq Scan") {
		t.Errorf("the plan kept for the page read is not an index scan of the primary key:\n%s", kept)
	}
	custom, err := postgis.ExplainPrepared(ctx, st, stmt, "force_custom_plan", arg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(custom, "Seq Scan") {
		t.Errorf("planned for its ids, the page read is no Seq Scan: the test no longer stands where one tempts\n%s", custom)
	}
}
