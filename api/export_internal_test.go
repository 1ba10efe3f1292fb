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

// TestExportWalkGivesEachIncidentOnce: incidents edited while an export
// walks move between its pages. One moved from the pages read to those
// ahead (its occurred_at becomes the latest in an oldest-first walk) came
// up twice, and a GeoPackage export failed on its primary key; one moved
// the other way was missed. The walk gives each once, the second at the
// end, and one created meanwhile too.
func TestExportWalkGivesEachIncidentOnce(t *testing.T) {
	st := storetest.Open(t)
	srv, err := New(Services{Incidents: st, Facilities: st, Actors: st, Tokens: st, Alerts: st, Webhooks: st, DB: st},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := time.Date(2018, 9, 8, 0, 0, 0, 0, time.UTC)
	create := func(at time.Time) int64 {
		inc := &domain.Incident{Location: orb.Point{47.7, 30.5}, Type: "indirect_fire", Title: "rockets", OccurredAt: at, Severity: 3}
		if err := st.CreateIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
		return inc.ID
	}
	move := func(id int64, at time.Time) {
		inc, err := st.FindIncidentByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		inc.OccurredAt = at
		if err := st.ReplaceIncident(ctx, id, inc, 0); err != nil {
			t.Fatal(err)
		}
	}
	var ids []int64
	for i := range 6 {
		ids = append(ids, create(base.Add(time.Duration(i)*time.Hour)))
	}
	f, err := ParseIncidentFilter(url.Values{"sortby": {"occurred_at"}})
	if err != nil {
		t.Fatal(err)
	}
	f.Page = domain.Page{Limit: 2}
	walk := newIncidentWalk(srv, f)
	var order []int64
	var created, createdLatest int64
	for step := 0; ; step++ {
		page, err := walk.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, ft := range page {
			order = append(order, ft.ID)
		}
		if step == 0 { // ids[0] and ids[1] are written
			move(ids[0], base.Add(24*time.Hour))  // to the pages ahead
			move(ids[5], base.Add(-24*time.Hour)) // to the pages read
			created = create(base.Add(-48 * time.Hour))
			createdLatest = create(time.Now().UTC()) // newest, in the default order's pages read
		}
	}
	count := map[int64]int{}
	for _, id := range order {
		count[id]++
	}
	for _, id := range append(ids, created, createdLatest) {
		if count[id] != 1 {
			t.Errorf("incident %d given %d times, want once (order %v)", id, count[id], order)
		}
	}
	if len(order) != 8 || order[0] != ids[0] || order[1] != ids[1] {
		t.Errorf("order %v: want the 8 incidents, the first page first", order)
	}
}
