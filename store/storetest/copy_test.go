package storetest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/postgis"
	"github.com/postwatch/postwatch/store/sqlite"
	"github.com/postwatch/postwatch/store/storetest"
)

// TestCopyKeepsAnswers: store.Copy from SQLite into PostGIS and from there
// into a new SQLite file, in batches of 7 rows, gives stores that answer
// every question alike, ids, write times and distances included, so the
// derived indexes of each engine (R*Tree, FTS5, GiST, tsvector) hold the
// copied rows; progress is reported while it runs; and a second copy into
// a destination that now holds records is refused with nothing changed.
func TestCopyKeepsAnswers(t *testing.T) {
	admin := os.Getenv(storetest.EnvPG)
	if admin == "" {
		t.Skip("needs both engines; the PostGIS pass (" + storetest.EnvPG + ") runs it")
	}
	ctx := context.Background()
	dir := t.TempDir()
	src, err := sqlite.Open(filepath.Join(dir, "source.db"), sqlite.Options{Durability: sqlite.DurabilityNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if _, err := seeds.LoadIfEmpty(ctx, seeds.Services{Incidents: src, Facilities: src, Actors: src}); err != nil {
		t.Fatal(err)
	}
	var batch []*domain.Incident
	for _, inc := range seeds.Synthetic(300, 11) {
		batch = append(batch, inc)
	}
	// A word over PostgreSQL's 2,047-byte lexeme is copied and found.
	long := strings.Repeat("a", 2100)
	batch[7].Description = "See http://example.org/" + long
	if _, err := src.ImportIncidents(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	pg, err := postgis.Open(ctx, storetest.CreateDatabase(t, admin), postgis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	back, err := sqlite.Open(filepath.Join(dir, "back.db"), sqlite.Options{NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })

	var progress bytes.Buffer
	copyInto := func(from, to interface {
		CopySource() (store.CopyEnd, error)
		CopyDestination() (store.CopyEnd, error)
	}) (store.CopyStats, error) {
		s, err := from.CopySource()
		if err != nil {
			t.Fatal(err)
		}
		d, err := to.CopyDestination()
		if err != nil {
			t.Fatal(err)
		}
		return store.Copy(ctx, s, d, store.CopyOptions{Progress: &progress, ProgressEvery: time.Nanosecond, BatchRows: 7})
	}
	stats, err := copyInto(src, pg)
	if err != nil {
		t.Fatalf("SQLite → PostGIS: %v", err)
	}
	if _, err := copyInto(pg, back); err != nil {
		t.Fatalf("PostGIS → SQLite: %v", err)
	}
	if stats.Rows["incidents"] < 300 || !strings.Contains(progress.String(), "migrate: incidents 7 of ") {
		t.Errorf("copied %v incidents; progress:\n%.300s", stats.Rows["incidents"], progress.String())
	}

	centre := seeds.SyntheticCentres()[0]
	filters := map[string]domain.IncidentFilter{
		"everything":  {},
		"bbox":        {BBox: []orb.Bound{{Min: orb.Point{centre[0] - 1, centre[1] - 1}, Max: orb.Point{centre[0] + 1, centre[1] + 1}}}},
		"near":        {Near: &domain.Near{Center: centre, RadiusM: 50_000}},
		"words":       {Text: "ROCKETS"},
		"long word":   {Text: "example " + long},
		"actor chain": {ActorIDs: []string{"irgc-qf"}, Attribution: domain.AttributionChain},
	}
	stores := map[string]store.Services{"postgis": pg, "sqlite again": back}
	for name, f := range filters {
		for _, sort := range []domain.SortKey{"-occurred_at", "created_at,-id", "-updated_at,id"} {
			f := f
			f.SortBy, f.Page.Limit = sort, 500
			want, err := src.FindIncidents(ctx, f)
			if err != nil || want.Matched == 0 {
				t.Fatalf("%s on the source: %v matches, %v; ask something the data answers", name, want, err)
			}
			for engine, st := range stores {
				got, err := st.FindIncidents(ctx, f)
				if err != nil || summary(got) != summary(want) {
					t.Errorf("%s sortby=%s on %s:\n got %s %v\nwant %s", name, sort, engine, summary(got), err, summary(want))
				}
			}
		}
	}
	last := stats.Rows["incidents"]
	want, err := src.FindIncidentByID(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	for engine, st := range stores {
		if got, err := st.FindIncidentByID(ctx, last); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("incident %d on %s:\n got %+v %v\nwant %+v", last, engine, got, err, want)
		}
		if id, _ := st.InstanceID(ctx); id != mustInstance(t, src) {
			t.Errorf("%s's instance id %s, want the source's", engine, id)
		}
	}

	before, _ := back.FindIncidents(ctx, domain.IncidentFilter{})
	if _, err := copyInto(src, back); !errors.Is(err, store.ErrDestinationNotEmpty) {
		t.Errorf("a copy into a store with records: %v, want ErrDestinationNotEmpty", err)
	}
	if after, _ := back.FindIncidents(ctx, domain.IncidentFilter{}); summary(after) != summary(before) {
		t.Errorf("the refused destination changed:\n%s\nwas %s", summary(after), summary(before))
	}
}

func mustInstance(t *testing.T, st *sqlite.Store) string {
	t.Helper()
	id, err := st.InstanceID(context.Background())
	if err != nil || id == "" {
		t.Fatalf("instance id: %q %v", id, err)
	}
	return id
}
