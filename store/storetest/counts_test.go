package storetest_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/postgis"
	"github.com/postwatch/postwatch/store/sqlite"
	"github.com/postwatch/postwatch/store/storetest"
)

// countsActors are the actors TestExactCounts attributes incidents to; the
// first names most of them, as a real data set's busiest actor does.
var countsActors = []string{"busy", "quiet", "rare", "idle"}

// TestExactCounts holds numberMatched and the page to a SQL count(*) and
// ORDER BY on the engine's own tables, for random filters of type,
// severity_min, actor, datetime and bbox, after creates, after updates that
// move incidents in place and time and change their type, severity and
// actors, and after deletes: whatever structure an engine counts from
// must follow every write.
func TestExactCounts(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	for _, id := range countsActors {
		if err := db.CreateActor(ctx, &domain.Actor{ID: id, Name: id, Kind: "state"}); err != nil {
			t.Fatal(err)
		}
	}
	raw := openRaw(t, db)
	rng := rand.New(rand.NewPCG(15, 1))
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	// Incidents gather around two places, so that boxes cover some cells
	// and blocks whole and cut others.
	randomize := func(inc *domain.Incident) {
		c := []orb.Point{{36.3, 33.5}, {-0.12, 51.5}}[rng.IntN(2)]
		inc.Location = orb.Point{c[0] + rng.Float64()*3 - 1.5, c[1] + rng.Float64()*3 - 1.5}
		inc.Type = domain.IncidentTypes[rng.IntN(4)]
		inc.Severity = 1 + rng.IntN(5)
		inc.OccurredAt = base.Add(time.Duration(rng.IntN(3*365*24)) * time.Hour)
		inc.Actors = nil
		for i, id := range countsActors[:3] {
			if rng.IntN(4) < 3-i {
				inc.Actors = append(inc.Actors, domain.IncidentActor{ActorID: id, Role: domain.ActorRoles[rng.IntN(2)]})
			}
		}
		// The same actor in a second role is one attribution for counts.
		if len(inc.Actors) > 0 && rng.IntN(5) == 0 {
			inc.Actors = append(inc.Actors, domain.IncidentActor{ActorID: inc.Actors[0].ActorID, Role: "claimant"})
		}
	}
	var live []*domain.Incident
	for range 400 {
		inc := &domain.Incident{Title: "counted", TimePrecision: "day", LocationPrecision: "exact", Status: "confirmed"}
		randomize(inc)
		if err := db.CreateIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
		live = append(live, inc)
	}
	// check compares 60 random filters, then those given, with SQL.
	check := func(stage string, db domain.IncidentService, given ...domain.IncidentFilter) {
		t.Helper()
		full := 0
		for i := range 60 + len(given) {
			f := randomFilter(rng, base)
			if i >= 60 {
				f = given[i-60]
			}
			want := raw.matches(t, f)
			if len(want) > f.Page.Limit {
				full++
			}
			page := findIn(t, db, f)
			if page.Matched != len(want) {
				t.Errorf("%s, filter %d (%s): numberMatched = %d, count(*) = %d", stage, i, describe(f), page.Matched, len(want))
			}
			if got, w := idsOf(page), want[:min(len(want), f.Page.Limit)]; !slices.Equal(got, w) {
				t.Errorf("%s, filter %d (%s): page %v, SQL %v", stage, i, describe(f), got, w)
			}
			// The next page starts after the cursor, in the same order.
			if page.Next != nil && len(want) > f.Page.Limit {
				f.Page.Cursor = page.Next
				next := findIn(t, db, f)
				if got, w := idsOf(next), want[f.Page.Limit:min(len(want), 2*f.Page.Limit)]; !slices.Equal(got, w) {
					t.Errorf("%s, filter %d (%s), second page: %v, SQL %v", stage, i, describe(f), got, w)
				}
			}
		}
		// The draw must exercise pages that continue, not only empty ones.
		if full < 10 {
			t.Errorf("%s: only %d of 60 filters matched more than a page", stage, full)
		}
	}
	check("after creates", db)
	// 300 updates before the next query: an engine that follows changes in
	// batches gets a large one here, and smaller ones below.
	for _, inc := range live[:300] {
		// A fresh struct, so that the update's fields are the random ones.
		next := &domain.Incident{Title: inc.Title, TimePrecision: inc.TimePrecision, LocationPrecision: inc.LocationPrecision, Status: inc.Status}
		randomize(next)
		if rng.IntN(3) == 0 {
			next.Actors = nil // an update that takes every actor away
		}
		if err := db.ReplaceIncident(ctx, inc.ID, next, 0); err != nil {
			t.Fatal(err)
		}
	}
	check("after updates", db)
	for _, inc := range live[100:220] {
		if err := db.DeleteIncident(ctx, inc.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	check("after deletes", db)
	// A second store on the same database builds its structures from the
	// tables, then follows writes made through the first.
	other := reopen(t, db, 0)
	check("built anew", other)
	// Every box wide enough for the time index takes its page's ids
	// there (grid.Find's other path), on either engine.
	// The random draw seldom holds a box matching an eighth of everything,
	// so boxes around each centre, newest and oldest first, are added.
	var wide []domain.IncidentFilter
	for _, c := range []orb.Point{{36.3, 33.5}, {-0.12, 51.5}} {
		for _, sort := range []domain.SortKey{"", domain.SortOccurredAt} {
			wide = append(wide, domain.IncidentFilter{SortBy: sort, Page: domain.Page{Limit: 7},
				BBox: []orb.Bound{{Min: orb.Point{c[0] - 2, c[1] - 2}, Max: orb.Point{c[0] + 2, c[1] + 2}}}})
		}
	}
	check("built anew, wide boxes paged from the time index", reopen(t, db, -1), wide...)
	for _, inc := range live[300:] {
		next := &domain.Incident{Title: inc.Title, TimePrecision: inc.TimePrecision, LocationPrecision: inc.LocationPrecision, Status: inc.Status}
		randomize(next)
		if err := db.ReplaceIncident(ctx, inc.ID, next, 0); err != nil {
			t.Fatal(err)
		}
	}
	check("built anew, after updates through the first store", other)
}

// reopen opens a second store on db's database, closed when t ends;
// mergeCells is its Options.GridMergeCells.
func reopen(t *testing.T, db *storetest.DB, mergeCells int) domain.IncidentService {
	t.Helper()
	if db.Engine == "postgis" {
		st, err := postgis.Open(context.Background(), db.DSN, postgis.Options{MaxConns: 2, GridMergeCells: mergeCells})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st, err := sqlite.Open(db.DSN, sqlite.Options{Durability: sqlite.DurabilityNormal, GridMergeCells: mergeCells})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func findIn(t *testing.T, db domain.IncidentService, f domain.IncidentFilter) *domain.IncidentPage {
	t.Helper()
	page, err := db.FindIncidents(context.Background(), f)
	if err != nil {
		t.Fatalf("FindIncidents(%s): %v", describe(f), err)
	}
	return page
}

// randomFilter draws a filter of up to all of type, severity_min, actor,
// datetime and bbox, with a limit small enough that pages continue.
func randomFilter(rng *rand.Rand, base time.Time) domain.IncidentFilter {
	f := domain.IncidentFilter{Page: domain.Page{Limit: 1 + rng.IntN(30)}}
	if rng.IntN(2) == 0 {
		f.Types = []domain.IncidentType{domain.IncidentTypes[rng.IntN(4)]}
		if rng.IntN(4) == 0 {
			f.Types = append(f.Types, domain.IncidentTypes[rng.IntN(4)])
		}
	}
	if rng.IntN(3) == 0 {
		s := 1 + rng.IntN(5)
		f.SeverityMin = &s
	}
	if rng.IntN(2) == 0 {
		f.ActorIDs = []string{countsActors[rng.IntN(len(countsActors))]}
		if rng.IntN(4) == 0 {
			f.ActorIDs = append(f.ActorIDs, countsActors[rng.IntN(len(countsActors))])
		}
	}
	if rng.IntN(2) == 0 {
		start := base.Add(time.Duration(rng.IntN(3*365)) * 24 * time.Hour)
		end := start.Add(time.Duration(1+rng.IntN(400)) * 24 * time.Hour)
		f.Time = &domain.TimeRange{Start: &start, End: &end}
	}
	if rng.IntN(3) > 0 {
		c := []orb.Point{{36.3, 33.5}, {-0.12, 51.5}}[rng.IntN(2)]
		w, h := 0.05+rng.Float64()*2.5, 0.05+rng.Float64()*2.5
		lon, lat := c[0]+rng.Float64()*2-1-w/2, c[1]+rng.Float64()*2-1-h/2
		f.BBox = []orb.Bound{{Min: orb.Point{lon, lat}, Max: orb.Point{lon + w, lat + h}}}
	}
	if rng.IntN(4) == 0 {
		f.SortBy = domain.SortOccurredAt
	}
	return f
}

func describe(f domain.IncidentFilter) string {
	var parts []string
	if f.Types != nil {
		parts = append(parts, fmt.Sprintf("type=%v", f.Types))
	}
	if f.SeverityMin != nil {
		parts = append(parts, fmt.Sprintf("severity_min=%d", *f.SeverityMin))
	}
	if f.ActorIDs != nil {
		parts = append(parts, fmt.Sprintf("actor=%v", f.ActorIDs))
	}
	if f.Time != nil {
		parts = append(parts, fmt.Sprintf("datetime=%s/%s", f.Time.Start.Format(time.DateOnly), f.Time.End.Format(time.DateOnly)))
	}
	if f.BBox != nil {
		parts = append(parts, fmt.Sprintf("bbox=%v", f.BBox[0]))
	}
	return strings.Join(parts, " ") + fmt.Sprintf(" limit=%d %s", f.Page.Limit, f.SortBy)
}

// rawDB is a second connection to a test database, for the answers SQL
// gives on the engine's own tables.
type rawDB struct {
	db     *sql.DB
	engine string
}

func openRaw(t *testing.T, db *storetest.DB) *rawDB {
	t.Helper()
	driver := "sqlite3"
	if db.Engine == "postgis" {
		driver = "pgx"
	}
	conn, err := sql.Open(driver, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawDB{db: conn, engine: db.Engine}
}

// matches is the ids of every live incident matching f (its type,
// severity_min, direct actors in any role, datetime and one bbox), in f's
// order, by SQL on the tables.
func (r *rawDB) matches(t *testing.T, f domain.IncidentFilter) []int64 {
	t.Helper()
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	instant := func(v time.Time) any {
		if r.engine == "sqlite" {
			return v.UnixMicro() // the column holds microseconds
		}
		return v
	}
	conds = append(conds, "deleted_at IS NULL")
	if f.Types != nil {
		var in []string
		for _, ty := range f.Types {
			in = append(in, arg(string(ty)))
		}
		conds = append(conds, "type IN ("+strings.Join(in, ", ")+")")
	}
	if f.SeverityMin != nil {
		conds = append(conds, "severity >= "+arg(*f.SeverityMin))
	}
	if f.ActorIDs != nil {
		var in []string
		for _, a := range f.ActorIDs {
			in = append(in, arg(a))
		}
		conds = append(conds, "id IN (SELECT incident_id FROM incident_actors WHERE actor_id IN ("+strings.Join(in, ", ")+"))")
	}
	if f.Time != nil {
		conds = append(conds, "occurred_at >= "+arg(instant(*f.Time.Start)), "occurred_at <= "+arg(instant(*f.Time.End)))
	}
	if f.BBox != nil {
		b := f.BBox[0]
		conds = append(conds, "lon >= "+arg(b.Min[0]), "lon <= "+arg(b.Max[0]), "lat >= "+arg(b.Min[1]), "lat <= "+arg(b.Max[1]))
	}
	dir := "DESC"
	if f.SortBy == domain.SortOccurredAt {
		dir = "ASC"
	}
	rows, err := r.db.Query("SELECT id FROM incidents WHERE "+strings.Join(conds, " AND ")+
		" ORDER BY occurred_at "+dir+", id "+dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}
