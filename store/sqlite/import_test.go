package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
)

func importTestIncident(ext, title string) *domain.Incident {
	inc := &domain.Incident{Location: orb.Point{47.66, 30.55}, Type: "indirect_fire", Title: title,
		Description: "rockets near the airport", OccurredAt: time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC), Severity: 3,
		Actors: []domain.IncidentActor{{ActorID: "kataib-hezbollah", Role: "suspected"}},
		// Values the snapshot's own encoder of the original values must
		// escape as encoding/json does (checkImportedStore compares).
		Original: map[string]string{"notes": `rockets "near" the airport`, "html": "<the> airport & port", "admin1": "Al Başrah", "sep": "a\u2028b", "title": title}}
	if ext != "" {
		inc.ExternalID = &ext
	}
	return inc
}

// TestImportIncidents: each record is checked like an API write and
// rejected alone; an external_id already stored updates its incident, in
// the same batch too; missing actors are created under their given names;
// every created or changed incident gets its history version, and the
// R*Tree, full-text index, incident_actors and live count stay exact.
func TestImportIncidents(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	live := &domain.Facility{Location: orb.Point{47.66, 30.55}, Name: "Consulate General Basrah", Kind: "consulate", AlertRadiusM: 10000}
	gone := &domain.Facility{Location: orb.Point{44.39, 33.30}, Name: "Old annex", Kind: "embassy", AlertRadiusM: 10000}
	for _, f := range []*domain.Facility{live, gone} {
		if err := s.CreateFacility(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteFacility(ctx, gone.ID, 0); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*domain.Actor{{ID: "kataib-hezbollah", Name: "Kata'ib Hezbollah"}, {ID: "disbanded", Name: "Disbanded"}} {
		a.ApplyDefaults()
		if err := s.CreateActor(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteActor(ctx, "disbanded", 0); err != nil {
		t.Fatal(err)
	}
	old := importTestIncident("held", "Deleted since")
	if err := s.CreateIncident(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteIncident(ctx, old.ID, 0); err != nil {
		t.Fatal(err)
	}

	bad := importTestIncident("", "No type")
	bad.Type = "meteor"
	deletedActor := importTestIncident("", "By a deleted actor")
	deletedActor.Actors = append(deletedActor.Actors, domain.IncidentActor{ActorID: "disbanded", Role: "perpetrator"})
	deletedFacility := importTestIncident("", "At a deleted facility")
	deletedFacility.FacilityID = &gone.ID
	again := importTestIncident("a", "Rockets land near Basra airport, revised")
	withFacility := importTestIncident("", "At the consulate")
	withFacility.FacilityID = &live.ID
	withFacility.Actors = append(withFacility.Actors, domain.IncidentActor{ActorID: "new-militia", Role: "claimant"})
	first := importTestIncident("a", "Rockets land near Basra airport")
	first.Actors = []domain.IncidentActor{{ActorID: "new-militia", Role: "perpetrator"}}

	batch := []*domain.Incident{first, bad, deletedActor, deletedFacility, importTestIncident("held", "Reuses a deleted one's id"), again, withFacility}
	results, err := s.ImportIncidents(ctx, batch, map[string]string{"new-militia": "New Militia"})
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

	// A second batch updates by external_id; an identical record is no change.
	revised := importTestIncident("a", "Rockets land near Basra airport, revised")
	revised.Description = "three rockets, no casualties"
	same := importTestIncident("a", "Rockets land near Basra airport, revised")
	same.Description = "three rockets, no casualties"
	results, err = s.ImportIncidents(ctx, []*domain.Incident{revised, same}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []domain.ImportOutcome{domain.ImportUpdated, domain.ImportUnchanged} {
		if r := results[i]; r.Outcome != want || r.ID != first.ID {
			t.Errorf("second batch, record %d: %s %d %v, want %s %d", i, r.Outcome, r.ID, r.Err, want, first.ID)
		}
	}

	a, err := s.FindActorByID(ctx, "new-militia")
	if err != nil || a.Name != "New Militia" {
		t.Errorf("created actor: %+v, %v; want named New Militia", a, err)
	}
	versions, err := s.IncidentHistory(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 3 || versions[len(versions)-1].Record.Description != "three rockets, no casualties" {
		t.Errorf("incident a has %d versions, want 3 (create, update in the batch, update)", len(versions))
	}
	checkImportedStore(t, s, 2)
}

// TestImportManyRows: batches larger than one INSERT statement, with
// several actors per incident, store every row once; importing part of
// them again updates those by external_id.
func TestImportManyRows(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	var all []*domain.Incident
	for i, inc := range seeds.Synthetic(1500, 7) {
		if i%3 == 0 {
			inc.Actors = append(inc.Actors, domain.IncidentActor{ActorID: "actor-999", Role: "target"})
		}
		all = append(all, inc)
	}
	for _, batch := range [][]*domain.Incident{all[:1001], all[1001:]} {
		results, err := s.ImportIncidents(ctx, batch, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range results {
			if r.Outcome != domain.ImportCreated {
				t.Fatalf("record %d: %s %v", i, r.Outcome, r.Err)
			}
		}
	}
	var again []*domain.Incident
	for _, inc := range all[:300] {
		next := *inc
		next.Title += " (revised)"
		again = append(again, &next)
	}
	results, err := s.ImportIncidents(ctx, again, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Outcome != domain.ImportUpdated || r.ID != all[i].ID {
			t.Fatalf("record %d imported again: %s %d %v, want updated %d", i, r.Outcome, r.ID, r.Err, all[i].ID)
		}
	}
	checkImportedStore(t, s, 1500)
	var byText, byLike int64
	s.write.Raw(`SELECT count(*) FROM incidents_fts WHERE incidents_fts MATCH 'revised'`).Row().Scan(&byText)
	s.write.Raw(`SELECT count(*) FROM incidents WHERE title LIKE '%(revised)%'`).Row().Scan(&byLike)
	if byText != 300 || byLike != 300 {
		t.Errorf("q=revised finds %d incidents, LIKE %d; want 300", byText, byLike)
	}
}

// TestImportStream: prepared batches are written in order, several to a
// transaction, and reported once committed; the writer connection's
// settings are as before afterwards.
func TestImportStream(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	defer func(rows int, after time.Duration, tree int64) {
		importCommitRows, importCommitAfter, importDeferTreeMin = rows, after, tree
	}(importCommitRows, importCommitAfter, importDeferTreeMin)
	importCommitRows, importCommitAfter = 600, time.Minute // three batches of 250 to a transaction
	importDeferTreeMin = 300                               // the R*Tree waits from the third batch on

	pragmas := func() (p [3]int) {
		for i, name := range []string{"cache_size", "synchronous", "wal_autocheckpoint"} {
			if err := s.write.Raw(`PRAGMA ` + name).Row().Scan(&p[i]); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	before := pragmas()
	var all []*domain.Incident
	for _, inc := range seeds.Synthetic(1200, 11) {
		all = append(all, inc)
	}
	all[260].Type = "meteor"
	dup := *all[3]
	dup.Title = "the same external id again"
	all[700] = &dup

	in := make(chan *PreparedIncidents)
	var sent []*PreparedIncidents
	go func() {
		defer close(in)
		for batch := range slices.Chunk(all, 250) {
			p := PrepareIncidents(batch, nil)
			sent = append(sent, p)
			in <- p
		}
	}()
	var got []*PreparedIncidents
	var outcomes []domain.ImportOutcome
	var live int64
	var stale []bool
	err := s.ImportStream(ctx, in, func(p *PreparedIncidents, results []domain.ImportResult) {
		got = append(got, p)
		current, err := s.incidentTreeCurrent(ctx)
		if err != nil {
			t.Error(err)
		}
		stale = append(stale, !current && !hasTimeIndex(t, s))
		for _, r := range results {
			outcomes = append(outcomes, r.Outcome)
		}
		// Reported only once committed: a reader sees it.
		if err := s.read.Raw(`SELECT count(*) FROM incidents`).Row().Scan(&live); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || !slices.Equal(got, sent) {
		t.Fatalf("reported %d batches, want the 5 sent in order", len(got))
	}
	if live != 1198 {
		t.Errorf("after the last report readers see %d incidents, want 1198", live)
	}
	for i, o := range outcomes {
		want := domain.ImportCreated
		switch i {
		case 260:
			want = domain.ImportRejected
		case 700:
			want = domain.ImportUpdated
		}
		if o != want {
			t.Errorf("record %d: %s, want %s", i, o, want)
		}
	}
	if after := pragmas(); after != before {
		t.Errorf("writer settings after the import %v, before %v", after, before)
	}
	var commits int64
	s.write.Raw(`SELECT count(DISTINCT changed_at) FROM history WHERE collection = 'incidents'`).Row().Scan(&commits)
	if commits != 3 {
		t.Errorf("%d transactions, want 3 of at most 3 batches", commits)
	}
	if !slices.Equal(stale, []bool{true, true, true, true, true}) {
		t.Errorf("R*Tree stale and the occurred_at index dropped after each committed batch: %v, want from the first transaction on", stale)
	}
	checkImportedStore(t, s, 1198)
	checkTree(t, s)
}

// TestImportStreamCacheSize: the writer's page cache during an import is
// Options.ImportCacheMiB, DefaultImportCacheMiB when unset.
func TestImportStreamCacheSize(t *testing.T) {
	for _, tc := range []struct{ opt, wantMiB int }{{0, DefaultImportCacheMiB}, {64, 64}} {
		s := openTestStoreWith(t, Options{ImportCacheMiB: tc.opt})
		var batch []*domain.Incident
		for _, inc := range seeds.Synthetic(10, 3) {
			batch = append(batch, inc)
		}
		in := make(chan *PreparedIncidents, 1)
		in <- PrepareIncidents(batch, nil)
		close(in)
		var during int
		err := s.ImportStream(context.Background(), in, func(*PreparedIncidents, []domain.ImportResult) {
			if err := s.write.Raw(`PRAGMA cache_size`).Row().Scan(&during); err != nil {
				t.Error(err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := -tc.wantMiB << 10; during != want {
			t.Errorf("ImportCacheMiB %d: cache_size %d during the import, want %d", tc.opt, during, want)
		}
	}
}

// TestImportStreamCancelled: a cancelled import returns context.Canceled,
// reports nothing, leaves nothing and leaves the writer's settings as they
// were, whether the cancellation lands while
// it waits for the next batch or in the middle of a statement (where
// database/sql rolls the transaction back under the writer).
func TestImportStreamCancelled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records int
		after   time.Duration
	}{
		{"between batches", 300, 200 * time.Millisecond}, // the batch is written, its transaction open
		{"during a statement", 5000, 5 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			defer func(after time.Duration) { importCommitAfter = after }(importCommitAfter)
			importCommitAfter = time.Minute
			var cacheBefore int
			if err := s.write.Raw(`PRAGMA cache_size`).Scan(&cacheBefore).Error; err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			in := make(chan *PreparedIncidents, 1)
			var batch []*domain.Incident
			for _, inc := range seeds.Synthetic(tc.records, 3) {
				batch = append(batch, inc)
			}
			in <- PrepareIncidents(batch, nil)
			time.AfterFunc(tc.after, cancel)
			reported := 0
			err := s.ImportStream(ctx, in, func(*PreparedIncidents, []domain.ImportResult) { reported++ })
			if !errors.Is(err, context.Canceled) {
				t.Errorf("ImportStream returned %v, want context.Canceled", err)
			}
			if reported != 0 {
				t.Errorf("%d batches reported from a rolled-back transaction", reported)
			}
			var cache int
			if err := s.write.Raw(`PRAGMA cache_size`).Scan(&cache).Error; err != nil || cache != cacheBefore {
				t.Errorf("cache_size %d (%v) after the import, want %d as before", cache, err, cacheBefore)
			}
			checkImportedStore(t, s, 0)
		})
	}
}

// TestImportStreamCancelledRebuildsTree: an import cancelled after
// transactions that left the R*Tree stale still rebuilds it, so what it
// committed is found by place.
func TestImportStreamCancelledRebuildsTree(t *testing.T) {
	s := openTestStoreWith(t, Options{NoGrid: true})
	defer func(rows int, tree int64) { importCommitRows, importDeferTreeMin = rows, tree }(importCommitRows, importDeferTreeMin)
	importCommitRows, importDeferTreeMin = 200, 100
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan *PreparedIncidents, 2)
	var all []*domain.Incident
	for _, inc := range seeds.Synthetic(300, 4) {
		all = append(all, inc)
	}
	in <- PrepareIncidents(all[:150], nil)
	in <- PrepareIncidents(all[150:], nil)
	err := s.ImportStream(ctx, in, func(*PreparedIncidents, []domain.ImportResult) {
		if len(in) == 0 {
			cancel() // both batches committed; the import waits for more
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ImportStream returned %v, want context.Canceled", err)
	}
	checkImportedStore(t, s, 300)
	checkTree(t, s)
}

// checkImportedStore checks the indexes the import keeps against the
// table: live count, R*Tree, incident_actors, full-text index, and one
// history version per version of every incident.
func checkImportedStore(t *testing.T, s *Store, wantLive int64) {
	t.Helper()
	counts := map[string]string{
		"live incidents":       `SELECT count(*) FROM incidents WHERE deleted_at IS NULL`,
		"R*Tree entries":       `SELECT count(*) FROM incidents_rtree`,
		"live_counts":          `SELECT n FROM live_counts WHERE collection = 'incidents'`,
		"R*Tree mismatches":    `SELECT count(*) - ? FROM incidents i JOIN incidents_rtree r ON r.id = i.id WHERE r.min_lon <= i.lon AND i.lon <= r.max_lon AND r.min_lat <= i.lat AND i.lat <= r.max_lat AND i.deleted_at IS NULL`,
		"actor rows missing":   `SELECT count(*) FROM incidents i, json_each(i.extra, '$.actors') a WHERE NOT EXISTS (SELECT 1 FROM incident_actors ia WHERE ia.incident_id = i.id AND ia.actor_id = a.value->>'actor_id' AND ia.role = a.value->>'role')`,
		"actor rows extra":     `SELECT (SELECT count(*) FROM incident_actors) - (SELECT coalesce(sum(json_array_length(extra, '$.actors')), 0) FROM incidents)`,
		"versions unrecorded":  `SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM history h WHERE h.collection = 'incidents' AND h.record_id = CAST(i.id AS TEXT) AND h.version = i.version)`,
		"history gaps":         `SELECT count(*) FROM incidents i WHERE (SELECT count(*) FROM history h WHERE h.collection = 'incidents' AND h.record_id = CAST(i.id AS TEXT)) != i.version`,
		"text rows unindexed":  `SELECT count(*) FROM incidents i WHERE i.title != '' AND NOT EXISTS (SELECT 1 FROM incidents_fts f WHERE f.rowid = i.id)`,
		"fts rows":             `SELECT (SELECT count(*) FROM incidents_fts) - (SELECT count(*) FROM incidents)`,
		"fts doc count excess": `SELECT (SELECT count(*) FROM incidents_fts_docsize) - (SELECT count(*) FROM incidents)`,
	}
	for name, q := range counts {
		var n int64
		args := []any{}
		if strings.Contains(q, "?") {
			args = append(args, wantLive)
		}
		if err := s.write.Raw(q, args...).Row().Scan(&n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := wantLive
		if !strings.HasPrefix(name, "live") && !strings.HasPrefix(name, "R*Tree entries") {
			want = 0
		}
		if n != want {
			t.Errorf("%s: %d, want %d", name, n, want)
		}
	}
	if err := s.write.Exec(`INSERT INTO incidents_fts (incidents_fts, rank) VALUES ('integrity-check', 1)`).Error; err != nil {
		t.Errorf("full-text index: %v", err)
	}
	var check string
	if err := s.write.Raw(`PRAGMA integrity_check`).Row().Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %s %v", check, err)
	}
	// Each incident's newest snapshot is the incident as read back.
	var snaps []struct {
		ID       int64
		Snapshot string
	}
	err := s.write.Raw(`SELECT i.id, h.snapshot FROM incidents i JOIN history h
		ON h.collection = 'incidents' AND h.record_id = CAST(i.id AS TEXT) AND h.version = i.version
		WHERE i.deleted_at IS NULL`).Scan(&snaps).Error
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range snaps {
		inc, err := s.findIncident(context.Background(), s.write, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(inc)
		if string(b) != h.Snapshot {
			t.Errorf("incident %d: history snapshot\n%s\nis not the stored incident\n%s", h.ID, h.Snapshot, b)
		}
	}
}

// TestImportRejectedUpdateKeepsText: an update rejected after its checks
// began (a facility that does not exist) leaves the incident and its
// full-text entry as they were.
func TestImportRejectedUpdateKeepsText(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if _, err := s.ImportIncidents(ctx, []*domain.Incident{importTestIncident("a", "Rockets near the airport")}, nil); err != nil {
		t.Fatal(err)
	}
	next := importTestIncident("a", "Retitled")
	missing := int64(99)
	next.FacilityID = &missing
	results, err := s.ImportIncidents(ctx, []*domain.Incident{next}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Outcome != domain.ImportRejected {
		t.Errorf("update naming a missing facility: %s, want rejected", results[0].Outcome)
	}
	checkImportedStore(t, s, 1)
	var n int64
	s.write.Raw(`SELECT count(*) FROM incidents_fts WHERE incidents_fts MATCH 'airport'`).Row().Scan(&n)
	if n != 1 {
		t.Errorf("q=airport finds %d incidents after the rejected update, want 1", n)
	}
}

// TestImportFailureRollsBackTheBatch: a write failing after the checks
// passed leaves nothing of the batch: no incident, actor or history row.
func TestImportFailureRollsBackTheBatch(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if err := s.write.Exec(`CREATE TEMP TRIGGER fail_import BEFORE INSERT ON history WHEN new.snapshot LIKE '%boom%'
		BEGIN SELECT RAISE(ABORT, 'boom'); END`).Error; err != nil {
		t.Fatal(err)
	}
	batch := []*domain.Incident{importTestIncident("x", "fine"), importTestIncident("y", "boom"), importTestIncident("z", "fine too")}
	batch[1].Actors = []domain.IncidentActor{{ActorID: "someone-new", Role: "perpetrator"}}
	if _, err := s.ImportIncidents(ctx, batch, nil); err == nil {
		t.Fatal("the import succeeded although a history row could not be written")
	}
	for _, table := range []string{"incidents", "actors", "history", "incident_actors", "incidents_rtree", "incidents_fts"} {
		var n int64
		if err := s.write.Raw(`SELECT count(*) FROM ` + table).Row().Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s holds %d rows after the failed batch, want 0", table, n)
		}
	}
	checkImportedStore(t, s, 0)
}

// TestImportCreatesActorsOnce: through ImportStream, as `postwatch import`
// writes, a record naming a new actor in two roles creates it once and is
// stored with both roles; and a record whose actor cannot be created after
// another of its actors was (here, one a trigger created meanwhile) fails
// its batch instead of being rejected with that actor left behind.
func TestImportCreatesActorsOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trigger string // created before the import
		actors  []domain.IncidentActor
		// want is the actor rows afterwards, or nil for a failed batch.
		want []string
	}{
		{name: "one actor in two roles",
			actors: []domain.IncidentActor{{ActorID: "newgroup", Role: "perpetrator"}, {ActorID: "newgroup", Role: "claimant"}},
			want:   []string{"newgroup"}},
		{name: "an actor created meanwhile",
			trigger: `CREATE TRIGGER meanwhile AFTER INSERT ON actors WHEN new.id = 'first' BEGIN
				INSERT INTO actors (id, name, kind, created_at, updated_at, version) VALUES ('second', 'Second', 'unknown', 0, 0, 1); END`,
			actors: []domain.IncidentActor{{ActorID: "first", Role: "perpetrator"}, {ActorID: "second", Role: "claimant"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			if tc.trigger != "" {
				if err := s.write.Exec(tc.trigger).Error; err != nil {
					t.Fatal(err)
				}
			}
			inc := importTestIncident("", "IRGC missile strike on Erbil")
			inc.Actors = tc.actors
			in := make(chan *PreparedIncidents, 1)
			in <- PrepareIncidents([]*domain.Incident{inc}, nil)
			close(in)
			var results []domain.ImportResult
			err := s.ImportStream(context.Background(), in, func(_ *PreparedIncidents, r []domain.ImportResult) { results = r })
			switch {
			case tc.want == nil && err == nil:
				t.Fatalf("the import answered %+v, want its batch failed", results)
			case tc.want != nil && (err != nil || results[0].Outcome != domain.ImportCreated):
				t.Fatalf("the import answered %+v, %v; want the record created", results, err)
			}
			var actors []string
			if err := s.read.Raw(`SELECT id FROM actors ORDER BY id`).Scan(&actors).Error; err != nil {
				t.Fatal(err)
			}
			var versions, links int
			if err := s.read.Raw(`SELECT (SELECT count(*) FROM history WHERE collection = 'actors'), (SELECT count(*) FROM incident_actors)`).
				Row().Scan(&versions, &links); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(actors, tc.want) || versions != len(tc.want) || links != len(tc.actors)*len(tc.want) {
				t.Errorf("actors %v with %d versions and %d incident links, want %v with one version each and %d links",
					actors, versions, links, tc.want, len(tc.actors)*len(tc.want))
			}
		})
	}
}
