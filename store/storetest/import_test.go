package storetest_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/storetest"
)

func importIncident(ext, title string) *domain.Incident {
	inc := &domain.Incident{Location: orb.Point{47.66, 30.55}, Type: "indirect_fire", Title: title,
		Description: "rockets near the airport", OccurredAt: time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC), Severity: 3,
		Actors: []domain.IncidentActor{{ActorID: "kataib-hezbollah", Role: "suspected"}}}
	if ext != "" {
		inc.ExternalID = &ext
	}
	return inc
}

// TestImportBatch: on both engines, a record rejected in the middle of a
// batch leaves the others stored; a second record with an external_id the
// batch created updates it; a later batch updates by external_id, and an
// identical record is unchanged; a rejected update leaves its incident as
// it was, and a rejected record (update or new) leaves no actor created
// for it; missing actors are created under their
// given names; history, actor links and the search column are written.
func TestImportBatch(t *testing.T) {
	db := storetest.Open(t)
	ctx := context.Background()
	live := &domain.Facility{Location: orb.Point{47.66, 30.55}, Name: "Consulate General Basrah", Kind: "consulate", AlertRadiusM: 10000}
	gone := &domain.Facility{Location: orb.Point{44.39, 33.30}, Name: "Old annex", Kind: "embassy", AlertRadiusM: 10000}
	for _, f := range []*domain.Facility{live, gone} {
		if err := db.CreateFacility(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteFacility(ctx, gone.ID, 0); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*domain.Actor{{ID: "kataib-hezbollah", Name: "Kata'ib Hezbollah"}, {ID: "disbanded", Name: "Disbanded"}} {
		a.ApplyDefaults()
		if err := db.CreateActor(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteActor(ctx, "disbanded", 0); err != nil {
		t.Fatal(err)
	}
	old := importIncident("held", "Deleted since")
	if err := db.CreateIncident(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteIncident(ctx, old.ID, 0); err != nil {
		t.Fatal(err)
	}

	first := importIncident("a", "Rockets land near Basra airport")
	first.Actors = []domain.IncidentActor{{ActorID: "new-militia", Role: "perpetrator"}}
	bad := importIncident("", "No type")
	bad.Type = "meteor"
	deletedActor := importIncident("", "By a deleted actor")
	deletedActor.Actors = append(deletedActor.Actors, domain.IncidentActor{ActorID: "disbanded", Role: "perpetrator"})
	deletedFacility := importIncident("", "At a deleted facility")
	deletedFacility.FacilityID = &gone.ID
	again := importIncident("a", "Rockets land near Basra airport, revised")
	withFacility := importIncident("b", "Mortars at the consulate")
	withFacility.FacilityID = &live.ID
	withFacility.Actors = append(withFacility.Actors, domain.IncidentActor{ActorID: "other-militia", Role: "claimant"})
	badUpdate := importIncident("b", "Mortars at a deleted facility")
	badUpdate.FacilityID = &gone.ID
	badUpdate.Actors = append(badUpdate.Actors, domain.IncidentActor{ActorID: "only-in-a-rejected-update", Role: "suspected"})

	badActor := importIncident("c", "Names an actor id that cannot be")
	badActor.Actors = []domain.IncidentActor{{ActorID: "named-before-a-bad-one", Role: "suspected"}, {ActorID: "BAD ID !!", Role: "suspected"}}
	batch := []*domain.Incident{first, bad, deletedActor, deletedFacility, importIncident("held", "Reuses a deleted one's id"),
		again, withFacility, badUpdate, badActor, importIncident("d", "Kept after a rejected record")}
	results, err := db.ImportIncidents(ctx, batch, map[string]string{"new-militia": "New Militia"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		outcome domain.ImportOutcome
		code    domain.ErrorCode
		msg     string
	}{
		{domain.ImportCreated, "", ""},
		{domain.ImportRejected, domain.EINVALID, "properties.type"},
		{domain.ImportRejected, domain.EINVALID, `actor "disbanded" was deleted`},
		{domain.ImportRejected, domain.EINVALID, "properties.facility_id: facility"},
		{domain.ImportRejected, domain.ECONFLICT, `which was deleted`},
		{domain.ImportUpdated, "", ""},
		{domain.ImportCreated, "", ""},
		{domain.ImportRejected, domain.EINVALID, "properties.facility_id: facility"},
		{domain.ImportRejected, domain.EINVALID, `"BAD ID !!" must be`},
		{domain.ImportCreated, "", ""},
	}
	for i, w := range want {
		r := results[i]
		if r.Outcome != w.outcome || (w.code != "" && domain.ErrorCodeOf(r.Err) != w.code) ||
			(w.msg != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), w.msg))) {
			t.Errorf("record %d: %s %v, want %s %s %q", i, r.Outcome, r.Err, w.outcome, w.code, w.msg)
		}
	}
	if results[5].ID != results[0].ID {
		t.Errorf("the second record with external_id a updated incident %d, want %d", results[5].ID, results[0].ID)
	}

	revised := importIncident("a", "Rockets land near Basra airport, revised")
	revised.Description = "three rockets, no casualties"
	same := importIncident("a", "Rockets land near Basra airport, revised")
	same.Description = "three rockets, no casualties"
	results, err = db.ImportIncidents(ctx, []*domain.Incident{revised, same}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []domain.ImportOutcome{domain.ImportUpdated, domain.ImportUnchanged} {
		if r := results[i]; r.Outcome != want || r.ID != first.ID {
			t.Errorf("second batch, record %d: %s %d %v, want %s %d", i, r.Outcome, r.ID, r.Err, want, first.ID)
		}
	}

	if a, err := db.FindActorByID(ctx, "new-militia"); err != nil || a.Name != "New Militia" {
		t.Errorf("created actor: %+v, %v; want named New Militia", a, err)
	}
	if _, err := db.FindActorByID(ctx, "other-militia"); err != nil {
		t.Errorf("actor other-militia was not created: %v", err)
	}
	for _, id := range []string{"only-in-a-rejected-update", "named-before-a-bad-one"} {
		if a, err := db.FindActorByID(ctx, id); domain.ErrorCodeOf(err) != domain.ENOTFOUND {
			t.Errorf("a rejected record left its new actor %s behind: %+v, %v", id, a, err)
		}
	}
	versions, err := db.IncidentHistory(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 3 || versions[2].Record.Description != "three rockets, no casualties" {
		t.Errorf("incident a has %d versions, want 3 (create, update in the batch, update)", len(versions))
	}
	if versions, err := db.IncidentHistory(ctx, withFacility.ID); err != nil || len(versions) != 1 || versions[0].Record.Title != withFacility.Title {
		t.Errorf("incident b history %+v, %v; want its one created version, untouched by the rejected update", versions, err)
	}
	for name, f := range map[string]domain.IncidentFilter{
		"mortars":       {Text: "MORTARS"},
		"other-militia": {ActorIDs: []string{"other-militia"}},
	} {
		page, err := db.FindIncidents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, h := range page.Items {
			ids = append(ids, h.ID)
		}
		if !slices.Equal(ids, []int64{withFacility.ID}) {
			t.Errorf("%s: incidents %v, want [%d]", name, ids, withFacility.ID)
		}
	}
	page, err := db.FindIncidents(ctx, domain.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if page.Matched != 3 { // a, b and d
		t.Errorf("%d live incidents, want 3", page.Matched)
	}
}

// TestImportActorInSeveralRoles: a record naming a new actor in two roles
// (the seed data's IRGC strike: perpetrator and claimant), whether it
// creates an incident or updates one, is stored with both roles and one
// actor, created once; and a record rejected for any reason leaves none of
// the actors it names behind.
func TestImportActorInSeveralRoles(t *testing.T) {
	twoRoles := []domain.IncidentActor{{ActorID: "newgroup", Role: "perpetrator"}, {ActorID: "newgroup", Role: "claimant"}}
	for _, tc := range []struct {
		name string
		// before sets the store up, and returns the incident the record
		// updates (0 for none).
		before func(t *testing.T, db *storetest.DB) int64
		edit   func(inc *domain.Incident)
		want   domain.ImportOutcome
		msg    string
	}{
		{name: "created", want: domain.ImportCreated},
		{name: "updated", before: func(t *testing.T, db *storetest.DB) int64 {
			return mustImport(t, db, "x")
		}, want: domain.ImportUpdated},
		{name: "rejected: a bad actor id after it", edit: func(inc *domain.Incident) {
			inc.Actors = append(inc.Actors, domain.IncidentActor{ActorID: "BAD ID !!", Role: "target"})
		}, want: domain.ImportRejected, msg: `"BAD ID !!" must be`},
		{name: "rejected: a deleted actor beside it", before: func(t *testing.T, db *storetest.DB) int64 {
			a := &domain.Actor{ID: "disbanded", Name: "Disbanded"}
			a.ApplyDefaults()
			if err := db.CreateActor(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			if err := db.DeleteActor(context.Background(), a.ID, 0); err != nil {
				t.Fatal(err)
			}
			return 0
		}, edit: func(inc *domain.Incident) {
			inc.Actors = append(inc.Actors, domain.IncidentActor{ActorID: "disbanded", Role: "target"})
		}, want: domain.ImportRejected, msg: `actor "disbanded" was deleted`},
		{name: "rejected: a missing facility", edit: func(inc *domain.Incident) {
			inc.FacilityID = new(int64)
			*inc.FacilityID = 999
		}, want: domain.ImportRejected, msg: "properties.facility_id"},
		{name: "rejected: an update to a missing facility", before: func(t *testing.T, db *storetest.DB) int64 {
			mustImport(t, db, "x")
			return 0
		}, edit: func(inc *domain.Incident) {
			inc.FacilityID = new(int64)
			*inc.FacilityID = 999
		}, want: domain.ImportRejected, msg: "properties.facility_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.Open(t)
			ctx := context.Background()
			var updates int64
			if tc.before != nil {
				updates = tc.before(t, db)
			}
			inc := importIncident("x", "IRGC missile strike on Erbil")
			inc.Actors = slices.Clone(twoRoles)
			if tc.edit != nil {
				tc.edit(inc)
			}
			results, err := db.ImportIncidents(ctx, []*domain.Incident{inc}, map[string]string{"newgroup": "New Group"})
			if err != nil {
				t.Fatal(err)
			}
			r := results[0]
			if r.Outcome != tc.want || (tc.msg != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), tc.msg))) {
				t.Fatalf("%s %v, want %s %q", r.Outcome, r.Err, tc.want, tc.msg)
			}
			if updates != 0 && r.ID != updates {
				t.Errorf("updated incident %d, want %d", r.ID, updates)
			}
			versions, err := db.ActorHistory(ctx, "newgroup")
			if tc.want == domain.ImportRejected {
				if domain.ErrorCodeOf(err) != domain.ENOTFOUND {
					t.Errorf("the rejected record left actor newgroup behind: %d versions, %v", len(versions), err)
				}
				return
			}
			if err != nil || len(versions) != 1 || versions[0].Record.Name != "New Group" {
				t.Fatalf("actor newgroup has versions %+v (%v), want one, created under its given name", versions, err)
			}
			actors, n, err := db.FindActors(ctx, domain.ActorFilter{Page: domain.Page{Limit: 10}})
			if err != nil || n != 1 || len(actors) != 1 {
				t.Errorf("%d actors %+v (%v), want newgroup alone", n, actors, err)
			}
			got, err := db.FindIncidentByID(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			roles := map[domain.IncidentActor]bool{}
			for _, a := range got.Actors {
				roles[a] = true
			}
			if len(got.Actors) != 2 || !roles[twoRoles[0]] || !roles[twoRoles[1]] {
				t.Errorf("incident %d has actors %+v, want %+v", r.ID, got.Actors, twoRoles)
			}
		})
	}
}

// mustImport imports a record with external_id ext naming no actor, which
// must be created, and returns its id.
func mustImport(t *testing.T, db *storetest.DB, ext string) int64 {
	t.Helper()
	inc := importIncident(ext, "Missiles on Erbil")
	inc.Actors = nil
	results, err := db.ImportIncidents(context.Background(), []*domain.Incident{inc}, nil)
	if err != nil || results[0].Outcome != domain.ImportCreated {
		t.Fatalf("import %q: %+v %v", ext, results, err)
	}
	return results[0].ID
}
