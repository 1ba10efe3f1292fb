package storetest_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/seeds"
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
	pg, err := postgis.Open(ctx, storetest.CreateDatabase(t, admin), postgis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
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
		"cql like":            {Where: domain.Compare{Property: "title", Op: "like", Values: []any{"%Prot%"}}},
		"cql between and not": {Where: domain.And{Operands: []domain.Expr{domain.Compare{Property: "severity", Op: "between", Values: []any{2.0, 4.0}}, domain.Not{Operand: domain.Compare{Property: "country", Op: "isnull"}}}}},
		"cql time":            {Where: domain.Compare{Property: "occurred_at", Op: ">=", Values: []any{from}}},
	}
	for i, w := range texts[:min(len(texts), 12)] {
		filters[fmt.Sprintf("q %d %s", i, w)] = domain.IncidentFilter{Text: strings.ToUpper(w)}
	}
	var empty []string
	for name, f := range filters {
		for _, sort := range domain.SortKeys {
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
				if a.Next == nil {
					break
				}
				f.Page.Cursor = a.Next
			}
		}
		for _, by := range domain.GroupBys {
			a, errA := lite.CountIncidents(ctx, f, by)
			b, errB := pg.CountIncidents(ctx, f, by)
			if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("%s group_by=%s:\n postgis %v %v\n sqlite  %v %v", name, by, b, errB, a, errA)
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
	for i := range ea.BBox {
		// SQLite's box comes from its R*Tree root, widened to hold every point.
		if math.Abs(ea.BBox[i]-eb.BBox[i]) > 2e-4 {
			t.Fatalf("extent boxes %v and %v differ by more than SQLite's widening", *ea.BBox, *eb.BBox)
		}
	}
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
