package storetest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/storetest"
)

// TestReplicasReadEachOthersWrites: two stores on one database, as two
// server processes behind a load balancer. Each answers place-and-time
// queries, clusters and reads by id from its own grid and cache; a write
// through one must be in the very next answer of the other (read your
// writes across replicas), moves and deletes included.
func TestReplicasReadEachOthersWrites(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	a, b := store.Services(db), db.Replica(t)
	boxA := geo.BBox{MinLon: 44.3, MinLat: 33.3, MaxLon: 44.4, MaxLat: 33.4}.Bounds()
	boxB := geo.BBox{MinLon: 47.7, MinLat: 30.5, MaxLon: 47.8, MaxLat: 30.6}.Bounds()
	// Every question is asked of both replicas first, so each has its grid
	// and cache warm with the state before each write.
	in := func(st store.Services, box []orb.Bound) []int64 {
		t.Helper()
		page, err := st.FindIncidents(ctx, domain.IncidentFilter{BBox: box, Page: domain.Page{Limit: 10}})
		if err != nil {
			t.Fatal(err)
		}
		cl, err := st.ClusterIncidents(ctx, domain.IncidentFilter{BBox: box}, 4)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range cl {
			n += c.Count
		}
		var ids []int64
		for _, h := range page.Items {
			ids = append(ids, h.ID)
		}
		if page.Matched != len(ids) || n != len(ids) {
			t.Errorf("numberMatched %d, clusters count %d, items %v", page.Matched, n, ids)
		}
		return ids
	}
	title := func(st store.Services, id int64) string {
		t.Helper()
		inc, err := st.FindIncidentByID(ctx, id)
		if domain.ErrorCodeOf(err) == domain.ENOTFOUND {
			return "(not found)"
		}
		if err != nil {
			t.Fatal(err)
		}
		return inc.Title
	}
	inc := &domain.Incident{Location: orb.Point{44.35, 33.35}, Type: "protest", Title: "first", OccurredAt: at(8, 5, 0), Severity: 2}
	for _, tc := range []struct {
		name   string
		writer store.Services
		write  func(st store.Services) error
		inA    bool // in boxA afterwards
		inB    bool
		title  string
	}{
		{"created through A", a, func(st store.Services) error { return st.CreateIncident(ctx, inc) }, true, false, "first"},
		{"retitled through B", b, func(st store.Services) error {
			next := *inc
			next.Title = "second"
			return st.ReplaceIncident(ctx, inc.ID, &next, 0)
		}, true, false, "second"},
		{"moved through A", a, func(st store.Services) error {
			next := *inc
			next.Title, next.Location = "moved", orb.Point{47.75, 30.55}
			return st.ReplaceIncident(ctx, inc.ID, &next, 0)
		}, false, true, "moved"},
		{"deleted through B", b, func(st store.Services) error { return st.DeleteIncident(ctx, inc.ID, 0) }, false, false, "(not found)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, st := range []store.Services{a, b} {
				in(st, boxA)
				in(st, boxB)
				if inc.ID != 0 {
					title(st, inc.ID)
				}
			}
			if err := tc.write(tc.writer); err != nil {
				t.Fatal(err)
			}
			for name, st := range map[string]store.Services{"A": a, "B": b} {
				if got := slices.Contains(in(st, boxA), inc.ID); got != tc.inA {
					t.Errorf("replica %s: in the first box %v, want %v", name, got, tc.inA)
				}
				if got := slices.Contains(in(st, boxB), inc.ID); got != tc.inB {
					t.Errorf("replica %s: in the second box %v, want %v", name, got, tc.inB)
				}
				if got := title(st, inc.ID); got != tc.title {
					t.Errorf("replica %s: by id %q, want %q", name, got, tc.title)
				}
			}
		})
	}
}

// TestDataVersionFollowsWrites: the data version a tile cache keys on
// changes with each write through any replica (an incident, a facility,
// a posture change) and when a posture change recorded ahead of time comes
// into effect, and stays put while nothing changes.
func TestDataVersionFollowsWrites(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	a, ok := db.Services.(domain.DataVersioner)
	if !ok {
		t.Fatalf("%T tells no data version", db.Services)
	}
	b := db.Replica(t)
	version := func() domain.DataVersion {
		t.Helper()
		v, err := a.DataVersion(ctx)
		if err != nil {
			t.Fatalf("DataVersion: %v", err)
		}
		return v
	}
	v0 := version()
	last := v0
	if v := version(); v != v0 {
		t.Errorf("no write, yet the version moved from %+v to %+v", v0, v)
	}
	inc := &domain.Incident{Location: orb.Point{44.35, 33.35}, Type: "protest", Title: "t", OccurredAt: at(8, 5, 0)}
	writes := []struct {
		name  string
		write func() error
	}{
		{"an incident created through another replica", func() error { return b.CreateIncident(ctx, inc) }},
		{"the incident deleted through this one", func() error { return db.DeleteIncident(ctx, inc.ID, 0) }},
		{"a facility created through another replica", func() error {
			return b.CreateFacility(ctx, &domain.Facility{Location: orb.Point{44.39, 33.30}, Name: "Embassy", Kind: "embassy", AlertRadiusM: 1000})
		}},
	}
	start := time.Now().UTC()
	*db.Now = func() time.Time { return start }
	fac := &domain.Facility{Location: orb.Point{47.66, 30.55}, Name: "Consulate General", Kind: "consulate", AlertRadiusM: 1000}
	writes = append(writes, []struct {
		name  string
		write func() error
	}{
		{"a facility created through this replica", func() error { return db.CreateFacility(ctx, fac) }},
		{"a posture change recorded ahead of time coming into effect", func() error {
			// Recorded, it shows nowhere yet: only its coming into effect must
			// change the version.
			err := db.RecordPosture(ctx, &domain.PostureChange{FacilityID: fac.ID, Posture: "relocated", EffectiveAt: start.Add(time.Hour)})
			last = version()
			*db.Now = func() time.Time { return start.Add(2 * time.Hour) }
			return err
		}},
	}...)
	for _, w := range writes {
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if v := version(); v == last {
			t.Errorf("after %s the version is still %+v", w.name, v)
		} else {
			last = v
		}
	}
}
