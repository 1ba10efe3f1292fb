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
