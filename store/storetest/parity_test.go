package storetest_test

import (
	"cmp"
	"context"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// at is a UTC time on 2018-09-dd hh:00 plus us microseconds.
func at(day, hour, us int) time.Time {
	return time.Date(2018, 9, day, hour, 0, 0, us*1000, time.UTC)
}

// add stores an incident and returns it; edit adjusts the defaults.
func add(t *testing.T, db *storetest.DB, lon, lat float64, edit func(*domain.Incident)) *domain.Incident {
	t.Helper()
	inc := &domain.Incident{Location: [2]float64{lon, lat}, Type: "indirect_fire", Title: "Rockets near the consulate",
		OccurredAt: at(8, 5, 0), Severity: 3}
	if edit != nil {
		edit(inc)
	}
	if err := db.CreateIncident(context.Background(), inc); err != nil {
		t.Fatalf("create %+v: %v", inc, err)
	}
	return inc
}

func find(t *testing.T, db *storetest.DB, f domain.IncidentFilter) *domain.IncidentPage {
	t.Helper()
	page, err := db.FindIncidents(context.Background(), f)
	if err != nil {
		t.Fatalf("FindIncidents(%+v): %v", f, err)
	}
	return page
}

func idsOf(p *domain.IncidentPage) []int64 {
	var out []int64
	for _, h := range p.Items {
		out = append(out, h.ID)
	}
	return out
}

// TestParity is one table of behaviours that must be the same on SQLite
// and on PostGIS; `make test` runs it on both (see storetest.Open).
func TestParity(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, db *storetest.DB)
	}{
		{"distance_m is geo.Distance, and the radius keeps exactly the incidents within it", func(t *testing.T, db *storetest.DB) {
			center := orb.Point{44.3615, 33.3128}
			var incs []*domain.Incident
			for i, p := range []orb.Point{{44.3615, 33.3128}, {44.40, 33.33}, {44.9, 33.9}, {44.3615, 33.3128 + 0.0449}} {
				incs = append(incs, add(t, db, p[0], p[1], func(inc *domain.Incident) { inc.OccurredAt = at(8, i, 0) }))
			}
			// The engines' sines and cosines (Go's, the C library's) may differ
			// in the last bit, so a point a nanometre inside or outside the
			// radius is the finest the two agree on.
			edge := geo.Distance(center, incs[3].Location)
			for _, radius := range []float64{edge * (1 + 1e-12), edge * (1 - 1e-12)} {
				page := find(t, db, domain.IncidentFilter{Near: &domain.Near{Center: center, RadiusM: radius}, SortBy: domain.SortOccurredAt})
				want := []int64{incs[0].ID, incs[1].ID}
				if radius > edge {
					want = append(want, incs[3].ID)
				}
				if got := idsOf(page); !slices.Equal(got, want) {
					t.Fatalf("radius %.9f m: ids %v, want %v", radius, got, want)
				}
				for _, h := range page.Items {
					if want := geo.Distance(center, h.Location); h.DistanceM == nil || *h.DistanceM != want {
						t.Fatalf("incident %d: distance_m %v, want %v", h.ID, h.DistanceM, want)
					}
				}
			}
		}},
		{"CQL2 LIKE is case-sensitive, and escapes its wildcards", func(t *testing.T, db *storetest.DB) {
			a := add(t, db, 44, 33, func(inc *domain.Incident) { inc.Title = "Rockets near the consulate" })
			add(t, db, 44, 33, func(inc *domain.Incident) { inc.Title = "rockets near the consulate" })
			c := add(t, db, 44, 33, func(inc *domain.Incident) { inc.Title = "100% Rockets_here" })
			for pattern, want := range map[string][]int64{
				"Rockets%":      {a.ID},
				"%Rockets%":     {a.ID, c.ID},
				`100\% R%`:      {c.ID},
				`%Rockets\_h%`:  {c.ID},
				"%ROCKETS%":     nil,
				"Rockets near_": nil,
			} {
				f := domain.IncidentFilter{Where: domain.Like{Value: domain.Property{Name: "title"}, Pattern: pattern}, SortBy: domain.SortOccurredAt}
				if got := idsOf(find(t, db, f)); !slices.Equal(got, want) {
					t.Errorf("title LIKE %q: %v, want %v", pattern, got, want)
				}
			}
		}},
		{"a bbox across the antimeridian is two boxes", func(t *testing.T, db *storetest.DB) {
			east := add(t, db, 179.5, 1, nil)
			west := add(t, db, -179.5, -1, func(inc *domain.Incident) { inc.OccurredAt = at(9, 0, 0) })
			add(t, db, 0, 0, nil)
			add(t, db, 179.5, 11, nil)
			page := find(t, db, domain.IncidentFilter{BBox: geo.BBox{MinLon: 170, MinLat: -10, MaxLon: -170, MaxLat: 10}.Bounds(), SortBy: domain.SortOccurredAt})
			if got, want := idsOf(page), []int64{east.ID, west.ID}; !slices.Equal(got, want) || page.Matched != 2 {
				t.Fatalf("ids %v (matched %d), want %v (2)", got, page.Matched, want)
			}
		}},
		{"datetime bounds are closed, to the microsecond", func(t *testing.T, db *storetest.DB) {
			var ids []int64
			for _, us := range []int{0, 1, 2, 3} {
				ids = append(ids, add(t, db, 44, 33, func(inc *domain.Incident) { inc.OccurredAt = at(8, 5, us) }).ID)
			}
			start, end := at(8, 5, 1), at(8, 5, 2)
			page := find(t, db, domain.IncidentFilter{Time: &domain.TimeRange{Start: &start, End: &end}, SortBy: domain.SortOccurredAt})
			if got := idsOf(page); !slices.Equal(got, ids[1:3]) {
				t.Fatalf("ids %v, want %v", got, ids[1:3])
			}
			page = find(t, db, domain.IncidentFilter{Time: &domain.TimeRange{End: &start}, SortBy: domain.SortOccurredAt})
			if got := idsOf(page); !slices.Equal(got, ids[:2]) {
				t.Fatalf("open start: ids %v, want %v", got, ids[:2])
			}
		}},
		{"sort, cursor paging and numberMatched", func(t *testing.T, db *storetest.DB) {
			var all []*domain.Incident
			for i := range 7 {
				all = append(all, add(t, db, 44, 33, func(inc *domain.Incident) {
					inc.Severity, inc.OccurredAt, inc.Type = 1+i%3, at(8, i%4, 0), []domain.IncidentType{"protest", "indirect_fire"}[i%2]
				}))
			}
			for _, sort := range []domain.SortKey{"-occurred_at", "occurred_at", "-severity", "severity"} {
				want := slices.Clone(all)
				slices.SortStableFunc(want, func(a, b *domain.Incident) int {
					ka, kb := a.OccurredAt.UnixMicro(), b.OccurredAt.UnixMicro()
					if sort == domain.SortSeverity || sort == domain.SortSeverityDesc {
						ka, kb = int64(a.Severity), int64(b.Severity)
					}
					c := cmp.Compare(ka, kb)
					if c == 0 {
						c = cmp.Compare(a.ID, b.ID)
					}
					if sort == domain.SortOccurredAtDesc || sort == domain.SortSeverityDesc {
						c = -c
					}
					return c
				})
				var got []int64
				f := domain.IncidentFilter{SortBy: sort, Page: domain.Page{Limit: 2}}
				for {
					page := find(t, db, f)
					if page.Matched != 7 {
						t.Fatalf("sortby=%s: numberMatched %d, want 7", sort, page.Matched)
					}
					got = append(got, idsOf(page)...)
					if page.Next == nil {
						break
					}
					f.Page.Cursor = page.Next
				}
				var wantIDs []int64
				for _, inc := range want {
					wantIDs = append(wantIDs, inc.ID)
				}
				if !slices.Equal(got, wantIDs) {
					t.Fatalf("sortby=%s: pages %v, want %v", sort, got, wantIDs)
				}
			}
			page := find(t, db, domain.IncidentFilter{Types: []domain.IncidentType{"protest"}, SortBy: domain.SortOccurredAt, Page: domain.Page{Limit: 1, Offset: 1}})
			if page.Matched != 4 || len(page.Items) != 1 {
				t.Fatalf("type=protest offset 1: matched %d, %d items; want 4, 1", page.Matched, len(page.Items))
			}
			// An empty page still counts every match.
			for _, tc := range []struct {
				name    string
				f       domain.IncidentFilter
				matched int
			}{
				{"offset past the end", domain.IncidentFilter{Types: []domain.IncidentType{"protest"}, Page: domain.Page{Limit: 2, Offset: 10}}, 4},
				{"nothing in the box", domain.IncidentFilter{BBox: []orb.Bound{{Min: orb.Point{0, 0}, Max: orb.Point{1, 1}}}}, 0},
			} {
				if page := find(t, db, tc.f); page.Matched != tc.matched || len(page.Items) != 0 || page.Next != nil {
					t.Fatalf("%s: matched %d, %d items, next %v; want %d, none, none", tc.name, page.Matched, len(page.Items), page.Next, tc.matched)
				}
			}
			if _, err := db.FindIncidents(ctx, domain.IncidentFilter{SortBy: domain.SortSeverity, Page: domain.Page{Cursor: &domain.Cursor{Sort: domain.SortOccurredAt}}}); domain.ErrorCodeOf(err) != domain.EINVALID {
				t.Fatalf("cursor of another sort: %v, want EINVALID", err)
			}
		}},
		{"stats buckets: UTC days, ISO weeks from Monday, months, counts then keys", func(t *testing.T, db *storetest.DB) {
			for _, when := range []time.Time{
				time.Date(2018, 9, 9, 23, 59, 0, 0, time.UTC), // a Sunday: the week of Monday 3 September
				time.Date(2018, 9, 10, 0, 0, 0, 0, time.UTC),  // a Monday
				time.Date(2018, 9, 10, 12, 0, 0, 0, time.FixedZone("", -12*3600)),
				time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC),
			} {
				add(t, db, 44, 33, func(inc *domain.Incident) { inc.OccurredAt, inc.Country = when, "IQ" })
			}
			add(t, db, 44, 33, func(inc *domain.Incident) { inc.Type, inc.Country = "protest", "SY" })
			for by, want := range map[domain.GroupBy][]domain.Bucket{
				"day":     {{Key: "2018-09-08", Keys: []string{"2018-09-08"}, Count: 1}, {Key: "2018-09-09", Keys: []string{"2018-09-09"}, Count: 1}, {Key: "2018-09-10", Keys: []string{"2018-09-10"}, Count: 1}, {Key: "2018-09-11", Keys: []string{"2018-09-11"}, Count: 1}, {Key: "2018-10-01", Keys: []string{"2018-10-01"}, Count: 1}},
				"week":    {{Key: "2018-09-03", Keys: []string{"2018-09-03"}, Count: 2}, {Key: "2018-09-10", Keys: []string{"2018-09-10"}, Count: 2}, {Key: "2018-10-01", Keys: []string{"2018-10-01"}, Count: 1}},
				"month":   {{Key: "2018-09", Keys: []string{"2018-09"}, Count: 4}, {Key: "2018-10", Keys: []string{"2018-10"}, Count: 1}},
				"type":    {{Key: "indirect_fire", Keys: []string{"indirect_fire"}, Count: 4}, {Key: "protest", Keys: []string{"protest"}, Count: 1}},
				"country": {{Key: "IQ", Keys: []string{"IQ"}, Count: 4}, {Key: "SY", Keys: []string{"SY"}, Count: 1}},
			} {
				got, err := db.CountIncidents(ctx, domain.IncidentFilter{}, domain.StatsQuery{By: []domain.GroupBy{by}})
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("group_by=%s: %v, %v; want %v", by, got, err, want)
				}
			}
		}},
		{"history: every version, also after deletion", func(t *testing.T, db *storetest.DB) {
			inc := add(t, db, 44, 33, nil)
			next := *inc
			next.Title = "Rockets near the consulate, two injured"
			if err := db.ReplaceIncident(ctx, inc.ID, &next, 1); err != nil {
				t.Fatal(err)
			}
			if err := db.ReplaceIncident(ctx, inc.ID, &next, 1); domain.ErrorCodeOf(err) != domain.EPRECONDITION {
				t.Fatalf("stale If-Match: %v, want EPRECONDITION", err)
			}
			if err := db.DeleteIncident(ctx, inc.ID, 2); err != nil {
				t.Fatal(err)
			}
			if _, err := db.FindIncidentByID(ctx, inc.ID); domain.ErrorCodeOf(err) != domain.ENOTFOUND {
				t.Fatalf("deleted incident: %v, want ENOTFOUND", err)
			}
			h, err := db.IncidentHistory(ctx, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			var ops []string
			for i, v := range h {
				ops = append(ops, v.Op)
				if v.Version != i+1 || v.ChangedBy != "system" || v.Record.ID != inc.ID {
					t.Fatalf("version %d: %+v", i+1, v)
				}
			}
			if !slices.Equal(ops, []string{"create", "update", "delete"}) || h[1].Record.Title != next.Title {
				t.Fatalf("history ops %v, v2 title %q", ops, h[1].Record.Title)
			}
			if _, err := db.IncidentHistory(ctx, inc.ID+1000); domain.ErrorCodeOf(err) != domain.ENOTFOUND {
				t.Fatalf("history of an incident that never was: %v, want ENOTFOUND", err)
			}
		}},
		{"q= finds words whatever their case and Latin accents, and Arabic", func(t *testing.T, db *storetest.DB) {
			fr := add(t, db, 44, 33, func(inc *domain.Incident) {
				inc.Title, inc.Description = "Tirs près de l'ambassade", "Quartier d'Al-Mansour"
			})
			ar := add(t, db, 44, 33, func(inc *domain.Incident) { inc.Title = "هجوم صاروخي على السفارة" })
			other := add(t, db, 44, 33, func(inc *domain.Incident) { inc.Title = "Ambassadors meet" })
			for q, want := range map[string][]int64{
				"pres":              {fr.ID},
				"PRÈS ambassade":    {fr.ID},
				"al mansour":        {fr.ID},
				"l'AMBASSADE":       {fr.ID},
				"السفارة":           {ar.ID},
				"السفارة ambassade": nil,
				"ambassad":          nil,
				"  ":                {fr.ID, ar.ID, other.ID},
			} {
				got := idsOf(find(t, db, domain.IncidentFilter{Text: q, SortBy: domain.SortOccurredAt}))
				if !slices.Equal(got, want) {
					t.Errorf("q=%q: %v, want %v", q, got, want)
				}
			}
		}},
		{"chain attribution follows relations valid at the incident's time", func(t *testing.T, db *storetest.DB) {
			for _, id := range []string{"irgc-qf", "kataib-hezbollah", "other"} {
				if err := db.CreateActor(ctx, &domain.Actor{ID: id, Name: id, Kind: "state"}); err != nil {
					t.Fatal(err)
				}
			}
			from, to := at(1, 0, 0), at(20, 0, 0)
			if err := db.CreateRelation(ctx, &domain.Relation{SubjectID: "irgc-qf", Kind: "directs", TargetID: "kataib-hezbollah", ValidFrom: &from, ValidTo: &to}); err != nil {
				t.Fatal(err)
			}
			named := func(actor string, role domain.ActorRole, when time.Time) *domain.Incident {
				return add(t, db, 44, 33, func(inc *domain.Incident) {
					inc.Actors, inc.OccurredAt = []domain.IncidentActor{{ActorID: actor, Role: role}}, when
				})
			}
			in := named("kataib-hezbollah", "perpetrator", at(10, 0, 0))
			named("kataib-hezbollah", "perpetrator", at(25, 0, 0)) // after the relation ended
			named("kataib-hezbollah", "target", at(10, 0, 0))      // not an attribution role
			direct := named("irgc-qf", "claimant", at(11, 0, 0))
			named("other", "perpetrator", at(10, 0, 0))
			got := idsOf(find(t, db, domain.IncidentFilter{ActorIDs: []string{"irgc-qf"}, Attribution: domain.AttributionChain, SortBy: domain.SortOccurredAt}))
			if want := []int64{in.ID, direct.ID}; !slices.Equal(got, want) {
				t.Fatalf("chain: %v, want %v", got, want)
			}
			got = idsOf(find(t, db, domain.IncidentFilter{ActorIDs: []string{"irgc-qf"}, SortBy: domain.SortOccurredAt}))
			if want := []int64{direct.ID}; !slices.Equal(got, want) {
				t.Fatalf("direct: %v, want %v", got, want)
			}
		}},
		{"If-Match: of concurrent writers expecting one version, exactly one wins", func(t *testing.T, db *storetest.DB) {
			inc := add(t, db, 44, 33, nil)
			const writers = 6
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					next := *inc
					next.Severity = 1 + i%5
					next.Title = "writer " + string(rune('A'+i))
					errs[i] = db.ReplaceIncident(ctx, inc.ID, &next, 1)
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case domain.ErrorCodeOf(err) != domain.EPRECONDITION:
					t.Fatalf("a losing writer got %v, want EPRECONDITION", err)
				}
			}
			h, err := db.IncidentHistory(ctx, inc.ID)
			if won != 1 || err != nil || len(h) != 2 {
				t.Fatalf("%d winners, %d versions (%v); want 1 and 2", won, len(h), err)
			}
		}},
		{"a follower of the alerts sees every alert of concurrent writers", func(t *testing.T, db *storetest.DB) {
			fac := &domain.Facility{Location: [2]float64{44.36, 33.31}, Name: "Embassy", Kind: "embassy", AlertRadiusM: 5000}
			if err := db.CreateFacility(ctx, fac); err != nil {
				t.Fatal(err)
			}
			const writers, each = 4, 10
			var wg sync.WaitGroup
			created := make(chan int64, writers*each)
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						inc := &domain.Incident{Location: fac.Location, Type: "protest", Title: "protest",
							OccurredAt: time.Now().Add(-time.Minute), Severity: 1}
						if err := db.CreateIncident(ctx, inc); err != nil {
							t.Error(err)
							return
						}
						created <- inc.ID
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			var seen []int64
			var last int64
			follow := func() {
				page, err := db.FindAlerts(ctx, domain.AlertFilter{AfterSeq: last, Limit: 7})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range page.Items {
					seen = append(seen, a.IncidentID)
					last = a.Seq
				}
			}
			for running := true; running; {
				select {
				case <-done:
					running = false
				default:
					follow()
				}
			}
			for n := -1; n != len(seen); {
				n = len(seen)
				follow()
			}
			close(created)
			var want []int64
			for id := range created {
				want = append(want, id)
			}
			slices.Sort(want)
			slices.Sort(seen)
			if !slices.Equal(seen, want) {
				t.Fatalf("the follower saw alerts of %v, want one of each of %v", seen, want)
			}
		}},
		{"a word over PostgreSQL's 2,047 bytes is stored, imported and updated, and found by it and by the others", func(t *testing.T, db *storetest.DB) {
			// PostGIS tells such words apart by their first 2,047 bytes
			// (store.SearchLexemes), SQLite by their first 32 KiB.
			long := strings.Repeat("a", 2100)
			// "㌕" folds to キロクラム: 498 bytes of q= make a word of 2,490.
			kilo := strings.Repeat("㌕", 166)
			posted := add(t, db, 44.36, 33.31, func(inc *domain.Incident) { inc.Description = "See http://example.org/" + long })
			replaced := add(t, db, 44.36, 33.31, nil)
			replaced.Description = "Weighed in " + kilo
			if err := db.ReplaceIncident(ctx, replaced.ID, replaced, 0); err != nil {
				t.Fatalf("replace: %v", err)
			}
			batch := []*domain.Incident{{}, {}, {}}
			for i, desc := range []string{"before", "Imported from http://example.net/b" + long, "after"} {
				batch[i] = &domain.Incident{Location: orb.Point{44.36, 33.31}, Type: "protest", Title: "Imported " + desc[:5],
					Description: desc, OccurredAt: at(9, i, 0), Severity: 2}
			}
			results, err := db.ImportIncidents(ctx, batch, nil)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			for i, r := range results {
				if r.Outcome != domain.ImportCreated {
					t.Errorf("imported record %d: %s %v, want created", i, r.Outcome, r.Err)
				}
			}
			for q, want := range map[string][]int64{
				"example org":  {posted.ID},
				long:           {posted.ID},
				"example":      {posted.ID, results[1].ID},
				"b" + long:     {results[1].ID},
				"weighed":      {replaced.ID},
				kilo:           {replaced.ID},
				"before after": nil,
			} {
				got := idsOf(find(t, db, domain.IncidentFilter{Text: q, SortBy: domain.SortOccurredAt}))
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("q=%.40s finds %v, want %v", q, got, want)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, storetest.Open(t)) })
	}
}
