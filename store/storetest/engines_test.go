package storetest_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/seeds"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/postgis"
	"github.com/postwatch/postwatch/store/sqlite"
	"github.com/postwatch/postwatch/store/storetest"
)

// TestEnginesAgree loads the seed data set and 1,500 synthetic incidents
// into a SQLite file and a PostGIS database and asks both the same
// questions: every page, count, distance, cursor, bucket and extent must
// be the same. It needs both engines at once, so the PostGIS pass runs it.
func TestEnginesAgree(t *testing.T) {
	admin := os.Getenv(storetest.EnvPG)
	if admin == "" {
		t.Skip("needs both engines; the PostGIS pass (" + storetest.EnvPG + ") runs it")
	}
	ctx := context.Background()
	lite, err := sqlite.Open(filepath.Join(t.TempDir(), "agree.db"), sqlite.Options{Durability: sqlite.DurabilityNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	pgDSN := storetest.CreateDatabase(t, admin)
	pg, err := postgis.Open(ctx, pgDSN, postgis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	// A second replica without the grid asks PostgreSQL every question
	// the first answers from memory, and follows the same loads.
	pgSQL, err := postgis.Open(ctx, pgDSN, postgis.Options{NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgSQL.Close() })
	var texts []string
	for _, st := range []storetest.DB{{Services: lite, Engine: "sqlite"}, {Services: pg, Engine: "postgis"}} {
		if _, err := seeds.LoadIfEmpty(ctx, seeds.Services{Incidents: st, Facilities: st, Actors: st}); err != nil {
			t.Fatalf("%s: seed: %v", st.Engine, err)
		}
		var batch []*domain.Incident
		for i, inc := range seeds.Synthetic(1500, 7) {
			batch = append(batch, inc)
			if i%10 == 0 && st.Engine == "sqlite" {
				texts = append(texts, strings.Fields(inc.Title)[0])
			}
			if len(batch) == 500 {
				if _, err := st.ImportIncidents(ctx, batch, nil); err != nil {
					t.Fatalf("%s: import: %v", st.Engine, err)
				}
				batch = nil
			}
		}
	}

	centre := seeds.SyntheticCentres()[0]
	from, to := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 6, 30, 23, 59, 59, 999999000, time.UTC)
	sev := 3
	filters := map[string]domain.IncidentFilter{
		"everything":          {},
		"bbox":                {BBox: []orb.Bound{orb.Bound{Min: orb.Point{centre[0] - 1, centre[1] - 1}, Max: orb.Point{centre[0] + 1, centre[1] + 1}}}},
		"antimeridian bbox":   {BBox: geo.BBox{MinLon: 40, MinLat: -60, MaxLon: -100, MaxLat: 34}.Bounds()},
		"near":                {Near: &domain.Near{Center: centre, RadiusM: 25_000}},
		"near and time":       {Near: &domain.Near{Center: centre, RadiusM: 200_000}, Time: &domain.TimeRange{Start: &from, End: &to}},
		"time":                {Time: &domain.TimeRange{Start: &from, End: &to}},
		"types and severity":  {Types: []domain.IncidentType{"protest", "indirect_fire"}, SeverityMin: &sev},
		"countries":           {Countries: []string{"IQ", "SY", "LB"}},
		"actor direct":        {ActorIDs: []string{"actor-001", "kataib-hezbollah"}},
		"actor chain":         {ActorIDs: []string{"irgc-qf"}, Attribution: domain.AttributionChain},
		"cql like":            {Where: domain.Like{Value: domain.Property{Name: "title"}, Pattern: "%Prot%"}},
		"cql casei":           {Where: domain.Like{Value: domain.Fold{Func: "casei", Arg: domain.Property{Name: "title"}}, Pattern: "%prot%"}},
		"cql between and not": {Where: domain.And{Operands: []domain.Expr{cmpLit("severity", ">=", 2.0), cmpLit("severity", "<=", 4.5), domain.Not{Operand: domain.IsNull{Value: domain.Property{Name: "country"}}}}}},
		"cql time":            {Where: cmpLit("occurred_at", ">=", from)},
		"cql in":              {Where: domain.In{Value: domain.Property{Name: "type"}, List: []domain.Operand{domain.Literal{Value: "protest"}, domain.Literal{Value: "ied"}}}},
		"cql within polygon":  {Where: domain.Spatial{Op: "within", Property: "geometry", Geometry: orb.Polygon{{{centre[0] - 2, centre[1] - 2}, {centre[0] + 2, centre[1] - 2}, {centre[0] + 2, centre[1] + 2}, {centre[0] - 2, centre[1] - 2}}}}},
		"cql disjoint":        {Where: domain.Spatial{Op: "disjoint", Property: "geometry", Geometry: orb.Bound{Min: orb.Point{centre[0] - 1, centre[1] - 1}, Max: orb.Point{centre[0] + 1, centre[1] + 1}}.ToPolygon()}},
		"cql tags overlap":    {Where: domain.ArrayPredicate{Op: "overlaps", Property: "tags", Values: []string{"basra-protests-2018", "live-fire"}}},
		"cql tags contain":    {Where: domain.ArrayPredicate{Op: "contains", Property: "tags", Values: []string{"civil-unrest"}}},
	}
	for i, w := range texts[:min(len(texts), 12)] {
		filters[fmt.Sprintf("q %d %s", i, w)] = domain.IncidentFilter{Text: strings.ToUpper(w)}
	}
	var empty []string
	for name, f := range filters {
		// Not created_at or updated_at: the two loads ran at different times.
		for _, sort := range []domain.SortKey{"-occurred_at", "occurred_at", "-severity", "severity", "-severity,occurred_at", "country,-title", "type,-id"} {
			f := f
			f.SortBy, f.Page.Limit = sort, 40
			for page := 0; page < 3; page++ {
				a, errA := lite.FindIncidents(ctx, f)
				b, errB := pg.FindIncidents(ctx, f)
				if errA != nil || errB != nil {
					t.Fatalf("%s sortby=%s: %v / %v", name, sort, errA, errB)
				}
				if page == 0 && sort == domain.SortOccurredAtDesc && a.Matched == 0 {
					empty = append(empty, name)
				}
				if got, want := summary(b), summary(a); got != want {
					t.Fatalf("%s sortby=%s page %d:\n postgis %s\n sqlite  %s", name, sort, page, got, want)
				}
				if c, err := pgSQL.FindIncidents(ctx, f); err != nil || summary(c) != summary(a) {
					t.Fatalf("%s sortby=%s page %d:\n postgis without grid %s %v\n sqlite  %s", name, sort, page, summary(c), err, summary(a))
				}
				if a.Next == nil {
					break
				}
				f.Page.Cursor = a.Next
			}
		}
		for _, by := range [][]domain.GroupBy{{"day"}, {"week"}, {"month"}, {"type"}, {"actor"}, {"facility"}, {"country"}, {"month", "type"}, {"country", "week"}} {
			q := domain.StatsQuery{By: by, Sum: []string{"killed", "injured"}}
			a, errA := lite.CountIncidents(ctx, f, q)
			b, errB := pg.CountIncidents(ctx, f, q)
			if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("%s group_by=%s:\n postgis %v %v\n sqlite  %v %v", name, by, b, errB, a, errA)
			}
		}
		for _, z := range []int{0, 6, 12} {
			a, errA := lite.ClusterIncidents(ctx, f, z)
			b, errB := pg.ClusterIncidents(ctx, f, z)
			if errA != nil || errB != nil || !sameClusters(a, b) {
				t.Fatalf("%s clusters at z%d:\n postgis %s %v\n sqlite  %s %v", name, z, clusters(b), errB, clusters(a), errA)
			}
			if c, err := pgSQL.ClusterIncidents(ctx, f, z); err != nil || !sameClusters(a, c) {
				t.Fatalf("%s clusters at z%d:\n postgis without grid %s %v\n sqlite  %s", name, z, clusters(c), err, clusters(a))
			}
		}
	}

	// Questions nothing answers would agree without proving anything.
	if len(empty) > 0 {
		t.Errorf("no incident matches %q: ask something the data answers", empty)
	}

	fa, errA := lite.FindFacilities(ctx, domain.FacilityFilter{Near: &domain.Near{Center: centre, RadiusM: 500_000}, Text: "EMB"})
	fb, errB := pg.FindFacilities(ctx, domain.FacilityFilter{Near: &domain.Near{Center: centre, RadiusM: 500_000}, Text: "EMB"})
	if errA != nil || errB != nil || facilities(fa) != facilities(fb) {
		t.Fatalf("facilities:\n postgis %s %v\n sqlite  %s %v", facilities(fb), errB, facilities(fa), errA)
	}
	aa, na, errA := lite.FindActors(ctx, domain.ActorFilter{Text: "HEZB", Page: domain.Page{Limit: 20}})
	ab, nb, errB := pg.FindActors(ctx, domain.ActorFilter{Text: "HEZB", Page: domain.Page{Limit: 20}})
	if errA != nil || errB != nil || na != nb || actors(aa) != actors(ab) {
		t.Fatalf("actors:\n postgis %d %s %v\n sqlite  %d %s %v", nb, actors(ab), errB, na, actors(aa), errA)
	}
	ea, errA := lite.IncidentExtent(ctx)
	eb, errB := pg.IncidentExtent(ctx)
	if errA != nil || errB != nil || !ea.Start.Equal(*eb.Start) || !ea.End.Equal(*eb.End) {
		t.Fatalf("extent times: %v %v / %v %v", ea, errA, eb, errB)
	}
	if *ea.BBox != *eb.BBox {
		t.Fatalf("extent boxes %v and %v differ", *ea.BBox, *eb.BBox)
	}
}

// cmpLit compares a property with a literal.
func cmpLit(property, op string, v any) domain.Expr {
	return domain.Compare{Op: op, Left: domain.Property{Name: property}, Right: domain.Literal{Value: v}}
}

// summary is what a client sees of a page, as one comparable string.
func summary(p *domain.IncidentPage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "matched %d next %+v:", p.Matched, p.Next)
	for _, h := range p.Items {
		fmt.Fprintf(&b, " %d", h.ID)
		if h.DistanceM != nil {
			fmt.Fprintf(&b, "@%v", *h.DistanceM)
		}
	}
	return b.String()
}

// facilities is what a client sees of a page of facilities but their
// write times, which differ between two loads.
func facilities(p *domain.FacilityPage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "matched %d next %+v:", p.Matched, p.Next)
	for _, h := range p.Items {
		f := h.Facility
		f.CreatedAt, f.UpdatedAt = time.Time{}, time.Time{}
		fmt.Fprintf(&b, " %+v@%v", f, *h.DistanceM)
	}
	return b.String()
}

// actors is a page of actors but their write times.
func actors(as []domain.Actor) string {
	var b strings.Builder
	for _, a := range as {
		a.CreatedAt, a.UpdatedAt = time.Time{}, time.Time{}
		fmt.Fprintf(&b, " %+v", a)
	}
	return b.String()
}

// clusters is a list of clusters in tile order.
func clusters(cs []domain.IncidentCluster) string {
	slices.SortFunc(cs, func(a, b domain.IncidentCluster) int { return cmp.Or(cmp.Compare(a.X, b.X), cmp.Compare(a.Y, b.Y)) })
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, " %d/%d:%d@%.9f,%.9f^%d", c.X, c.Y, c.Count, c.Center[0], c.Center[1], c.MaxSeverity)
	}
	return b.String()
}

// sameClusters reports whether two engines' clusters are the same tiles
// with the same counts and severities, and centres within 1e-9°: the sums
// behind them add the same coordinates in another order.
func sameClusters(a, b []domain.IncidentCluster) bool {
	clusters(a)
	clusters(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.X != y.X || x.Y != y.Y || x.Count != y.Count || x.MaxSeverity != y.MaxSeverity ||
			math.Abs(x.Center[0]-y.Center[0]) > 1e-9 || math.Abs(x.Center[1]-y.Center[1]) > 1e-9 {
			return false
		}
	}
	return true
}

// TestEnginesAgreeOnExtents: the same points, some a 32-bit float's step
// apart, around zero and past 100°, and enough for R*Trees of several
// levels, give SQLite and PostGIS the same extent of incidents and of
// facilities: the exact box of the live points, after deletes too.
func TestEnginesAgreeOnExtents(t *testing.T) {
	admin := os.Getenv(storetest.EnvPG)
	if admin == "" {
		t.Skip("needs both engines; the PostGIS pass (" + storetest.EnvPG + ") runs it")
	}
	ctx := context.Background()
	lite, err := sqlite.Open(filepath.Join(t.TempDir(), "extent.db"), sqlite.Options{Durability: sqlite.DurabilityNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	pg, err := postgis.Open(ctx, storetest.CreateDatabase(t, admin), postgis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })

	// The outermost two come first, to be deleted.
	points := []orb.Point{{-179.99999999, -89.99999999}, {179.12345678, 89.12345671},
		{123.45649, 45}, {123.456489999, 45.0000001}, {123.4564899, 45.00000012}, {-1e-8, -4e-8}, {-77.0365, 38.8977}}
	for i := range 1500 {
		points = append(points, orb.Point{-150 + float64(i%50)*5.123456789, -70 + float64(i/50)*4.87654321})
	}
	// Writes store points rounded to 7 decimals; the extent is their box.
	stored := make([]orb.Point, len(points))
	for i, p := range points {
		stored[i] = geo.RoundPoint(p)
	}
	type engine struct {
		name       string
		st         store.Services
		incidents  []int64
		facilities []int64
	}
	engines := []*engine{{name: "sqlite", st: lite}, {name: "postgis", st: pg}}
	for _, e := range engines {
		var batch []*domain.Incident
		for _, p := range points {
			batch = append(batch, &domain.Incident{Location: p, Type: "protest", Title: "Protest", OccurredAt: time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC), Severity: 2})
		}
		results, err := e.st.ImportIncidents(ctx, batch, nil)
		if err != nil {
			t.Fatalf("%s: import: %v", e.name, err)
		}
		for _, r := range results {
			e.incidents = append(e.incidents, r.ID)
		}
		for i, p := range points[:200] {
			f := &domain.Facility{Location: p, Name: fmt.Sprintf("Post %d", i), Kind: "office"}
			if err := e.st.CreateFacility(ctx, f); err != nil {
				t.Fatalf("%s: facility: %v", e.name, err)
			}
			e.facilities = append(e.facilities, f.ID)
		}
	}
	check := func(live []orb.Point, facilities int) {
		t.Helper()
		box := func(ps []orb.Point) [4]float64 {
			b := orb.MultiPoint(ps).Bound()
			return [4]float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}
		}
		for _, e := range engines {
			for name, c := range map[string]struct {
				extent func(context.Context) (*domain.Extent, error)
				want   [4]float64
			}{"incidents": {e.st.IncidentExtent, box(live)}, "facilities": {e.st.FacilityExtent, box(live[:facilities])}} {
				ext, err := c.extent(ctx)
				var got any = err
				if err == nil && ext.BBox != nil {
					got = *ext.BBox
				}
				if got != any(c.want) {
					t.Errorf("%s: %s extent %v, want %v", e.name, name, got, c.want)
				}
			}
		}
	}
	check(stored, 200)
	for _, e := range engines {
		for i := range 2 {
			if err := e.st.DeleteIncident(ctx, e.incidents[i], 0); err != nil {
				t.Fatal(err)
			}
			if err := e.st.DeleteFacility(ctx, e.facilities[i], 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	check(stored[2:], 198)
}
