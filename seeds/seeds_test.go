package seeds_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
	"github.com/postwatch/postwatch/store/sqlite"
)

// TestLoadIfEmpty loads the September 2018 data set into a real store and
// checks the story it tells, then that loading again changes nothing.
func TestLoadIfEmpty(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "seed.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	svc := seeds.Services{Incidents: st, Facilities: st, Actors: st}
	loaded, err := seeds.LoadIfEmpty(ctx, svc)
	if err != nil || !loaded {
		t.Fatalf("LoadIfEmpty = %v, %v; want a load into an empty database", loaded, err)
	}

	all, err := st.FindIncidents(ctx, domain.IncidentFilter{Page: domain.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if all.Matched < 8 {
		t.Fatalf("%d incidents seeded, want the story of September 2018", all.Matched)
	}
	fire := 0
	for _, h := range all.Items {
		if h.OccurredAt.Year() != 2018 || h.OccurredAt.Month() != 9 {
			t.Errorf("incident %q occurred %s, outside September 2018", h.Title, h.OccurredAt)
		}
		if len(h.Sources) == 0 {
			t.Errorf("incident %q has no source", h.Title)
		}
		if h.Type == "indirect_fire" {
			fire++
		}
	}
	if fire < 3 {
		t.Errorf("%d indirect-fire incidents, want those at Baghdad and Basrah", fire)
	}

	// The Quds Force is blamed through the militias it directs: chain
	// attribution finds at least every indirect fire it is suspected of.
	direct, err := st.FindIncidents(ctx, domain.IncidentFilter{ActorIDs: []string{"irgc-qf"}, Page: domain.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := st.FindIncidents(ctx, domain.IncidentFilter{ActorIDs: []string{"iran"}, Attribution: domain.AttributionChain, Page: domain.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if direct.Matched == 0 || chain.Matched < direct.Matched {
		t.Errorf("Iran by chain: %d incidents, the Quds Force directly: %d; the chain must include the Quds Force's", chain.Matched, direct.Matched)
	}

	facilities, err := st.FindFacilities(ctx, domain.FacilityFilter{Page: domain.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	postures := map[string]domain.Posture{}
	for _, f := range facilities.Items {
		postures[f.City] = f.Posture
	}
	if postures["Basrah"] != "relocated" {
		t.Errorf("Basrah's posture is %q, want relocated after 28 September 2018 (%v)", postures["Basrah"], postures)
	}

	loaded, err = seeds.LoadIfEmpty(ctx, svc)
	if err != nil || loaded {
		t.Fatalf("a second LoadIfEmpty = %v, %v; want nothing loaded", loaded, err)
	}
	again, err := st.FindIncidents(ctx, domain.IncidentFilter{Page: domain.Page{Limit: 1}})
	if err != nil || again.Matched != all.Matched {
		t.Fatalf("after a second load %d incidents, want %d (%v)", again.Matched, all.Matched, err)
	}
}

// TestSeedNotBackAfterDeletes: a database whose records were all deleted
// is not empty: loading again neither brings the seed back nor fails on
// the deleted actors' ids.
func TestSeedNotBackAfterDeletes(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "seed.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	svc := seeds.Services{Incidents: st, Facilities: st, Actors: st, History: st}
	if loaded, err := seeds.LoadIfEmpty(ctx, svc); err != nil || !loaded {
		t.Fatalf("LoadIfEmpty = %v, %v; want a load into a new database", loaded, err)
	}
	page := domain.Page{Limit: 1000}
	incs, err := st.FindIncidents(ctx, domain.IncidentFilter{Page: page})
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range incs.Items {
		if err := st.DeleteIncident(ctx, inc.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	facs, err := st.FindFacilities(ctx, domain.FacilityFilter{Page: page})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range facs.Items {
		if err := st.DeleteFacility(ctx, f.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	actors, _, err := st.FindActors(ctx, domain.ActorFilter{Page: page})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range actors {
		if err := st.DeleteActor(ctx, a.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	if loaded, err := seeds.LoadIfEmpty(ctx, svc); err != nil || loaded {
		t.Fatalf("LoadIfEmpty after deleting everything = %v, %v; want nothing loaded and no error", loaded, err)
	}
	if again, err := st.FindIncidents(ctx, domain.IncidentFilter{Page: page}); err != nil || again.Matched != 0 {
		t.Fatalf("%d incidents after the second load, want none (%v)", again.Matched, err)
	}
}
