package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// The same through the store: a grid built over rows whose ids are not in
// occurred_at order keeps a deleted incident.
func TestGridForgetsDeletedIncidentsWithFarIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "far.db")
	writer := openAt(t, path, Options{NoGrid: true})
	var created []int64
	for i := range 4 {
		inc := domain.Incident{Location: orb.Point{44.5, 33.5}, Type: "protest", Title: "t",
			OccurredAt: time.Date(2018, 1, 1+i, 0, 0, 0, 0, time.UTC)}
		if err := writer.CreateIncident(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		created = append(created, inc.ID)
	}
	// Renumber so that id order differs from occurred_at order, as in a
	// database of more than 1<<20 incidents imported out of time order.
	for i, want := range []int64{1, 2_000_000, 1_000_000, 2_000_001} {
		for _, tbl := range []string{"incidents", "incidents_rtree"} {
			if err := writer.write.Exec(`UPDATE `+tbl+` SET id = ? WHERE id = ?`, want, created[i]).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	reader := openAt(t, path, Options{})
	if err := writer.DeleteIncident(ctx, 2_000_000, 0); err != nil {
		t.Fatal(err)
	}
	page, err := reader.FindIncidents(ctx, domain.IncidentFilter{BBox: geo.BBox{MinLon: 44, MinLat: 33, MaxLon: 45, MaxLat: 34}.Bounds(), Page: domain.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if page.Matched != 3 || len(page.Items) != 3 {
		t.Errorf("after deleting one of 4: numberMatched %d, %d items; want 3, 3", page.Matched, len(page.Items))
	}
}

// An incident deleted between the grid choosing a page's ids and their rows
// being read leaves the page short and without a next cursor, though more
// incidents follow: a client paging by next links stops early.
func TestGridPageKeepsNextWhenARowVanishes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "next.db")
	writer := openAt(t, path, Options{NoGrid: true})
	reader := openAt(t, path, Options{})
	var ids []int64
	for i := range 4 {
		inc := domain.Incident{Location: orb.Point{44.5, 33.5}, Type: "protest", Title: "t",
			OccurredAt: time.Date(2018, 1, 1+i, 0, 0, 0, 0, time.UTC)}
		if err := writer.CreateIncident(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inc.ID)
	}
	g, err := reader.currentGrid(ctx)
	if err != nil || g == nil {
		t.Fatal(g, err)
	}
	// The newest (first in default desc order) is deleted after the grid
	// has been read; findInGrid without catching up is that window.
	if err := writer.DeleteIncident(ctx, ids[3], 0); err != nil {
		t.Fatal(err)
	}
	f := domain.IncidentFilter{BBox: geo.BBox{MinLon: 44, MinLat: 33, MaxLon: 45, MaxLat: 34}.Bounds(), Page: domain.Page{Limit: 2}}
	page, err := reader.findInGrid(ctx, g, f, orderOf(f.SortBy))
	if err != nil {
		t.Fatal(err)
	}
	if page.Next == nil {
		t.Errorf("%d items and no next cursor, but incident %d is still to come", len(page.Items), ids[0])
	}
}
