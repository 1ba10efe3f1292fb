package api

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/storetest"
)

// TestExportWalkGivesEachIncidentOnce: an incident edited while an export
// walks moves from the pages read to those ahead (here its occurred_at
// becomes the latest in an oldest-first walk); the walk gives it once,
// where it gave it twice and a GeoPackage export failed on its primary key.
func TestExportWalkGivesEachIncidentOnce(t *testing.T) {
	st := storetest.Open(t)
	srv, err := New(Services{Incidents: st, Facilities: st, Actors: st, Tokens: st, Alerts: st, Webhooks: st, DB: st},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := time.Date(2018, 9, 8, 0, 0, 0, 0, time.UTC)
	var ids []int64
	for i := range 5 {
		inc := &domain.Incident{Location: orb.Point{47.7, 30.5}, Type: "indirect_fire", Title: "rockets",
			OccurredAt: base.Add(time.Duration(i) * time.Hour), Severity: 3}
		if err := st.CreateIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inc.ID)
	}
	f, err := ParseIncidentFilter(url.Values{"sortby": {"occurred_at"}})
	if err != nil {
		t.Fatal(err)
	}
	f.Page = domain.Page{Limit: 2}
	walk := &incidentWalk{s: srv, f: f}
	seen := map[int64]int{}
	for step := 0; ; step++ {
		page, err := walk.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, ft := range page {
			seen[ft.ID]++
		}
		if step == 0 { // the oldest is read: make it the latest
			moved, err := st.FindIncidentByID(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			moved.OccurredAt = base.Add(24 * time.Hour)
			if err := st.ReplaceIncident(ctx, moved.ID, moved, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("incident %d given %d times, want once (all: %v)", id, seen[id], seen)
		}
	}
}
