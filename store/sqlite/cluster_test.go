package sqlite

import (
	"cmp"
	"context"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
)

// TestClustersFromGridAndSQLAgree: the grid's clusters and the aggregate
// query's are the same cells with the same counts, centres and highest
// severities, under place, time, type and severity filters, at every
// zoom, with writes made after a grid was built and a grid built after
// them; and their counts add
// up to FindIncidents' numberMatched.
func TestClustersFromGridAndSQLAgree(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clusters.db")
	withGrid, err := Open(path, Options{Durability: DurabilityNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer withGrid.Close()
	var batch []*domain.Incident
	for i, inc := range seeds.Synthetic(1500, 21) {
		if i%50 == 0 {
			inc.Location = orb.Point{179.95, -89.5} // beyond web mercator, beside the antimeridian
		}
		batch = append(batch, inc)
	}
	if _, err := withGrid.ImportIncidents(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	withSQL, err := Open(path, Options{Durability: DurabilityNormal, NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	defer withSQL.Close()
	// A write after the grid's build reaches it through the change feed:
	// a new severity-5 protest, and one incident made a riot.
	inc := *batch[1]
	inc.ID, inc.Severity, inc.Type = 0, 5, "protest"
	ext := "moved"
	inc.ExternalID = &ext
	if err := withSQL.CreateIncident(ctx, &inc); err != nil {
		t.Fatal(err)
	}
	riot := *batch[2]
	riot.Type = "riot"
	if err := withSQL.ReplaceIncident(ctx, batch[2].ID, &riot, 0); err != nil {
		t.Fatal(err)
	}
	// And one of actor-001's incidents is deleted: it keeps its
	// incident_actors rows, but is no match.
	var deleted bool
	for _, inc := range batch[3:] {
		if len(inc.Actors) > 0 && inc.Actors[0].ActorID == "actor-001" {
			if err := withSQL.DeleteIncident(ctx, inc.ID, 0); err != nil {
				t.Fatal(err)
			}
			deleted = true
			break
		}
	}
	if !deleted {
		t.Fatal("no incident of actor-001 to delete")
	}

	// A grid built from the database reads every incident's meta at once.
	rebuilt, err := Open(path, Options{Durability: DurabilityNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()

	sev4 := 4
	from := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	filters := map[string]domain.IncidentFilter{
		"everything":        {},
		"a box":             {BBox: []orb.Bound{{Min: orb.Point{40, 28}, Max: orb.Point{48, 36}}}},
		"types":             {Types: []domain.IncidentType{"protest", "riot"}},
		"severity and time": {SeverityMin: &sev4, Time: &domain.TimeRange{Start: &from}},
		"a radius and type": {Near: &domain.Near{Center: orb.Point{44.4, 33.3}, RadiusM: 300_000}, Types: []domain.IncidentType{"ied"}},
		"across the 180th":  {BBox: []orb.Bound{{Min: orb.Point{170, -90}, Max: orb.Point{180, 90}}, {Min: orb.Point{-180, -90}, Max: orb.Point{-170, 90}}}},
		"an actor":          {ActorIDs: []string{"actor-001"}},
		"actors, box, time": {ActorIDs: []string{"actor-002", "actor-003"}, BBox: []orb.Bound{{Min: orb.Point{40, 28}, Max: orb.Point{48, 36}}},
			Time: &domain.TimeRange{Start: &from}, Attribution: domain.AttributionDirect},
		"an actor and type": {ActorIDs: []string{"actor-001"}, Types: []domain.IncidentType{"protest", "ied"}, SeverityMin: &sev4},
		"an actor by chain": {ActorIDs: []string{"actor-001"}, Attribution: domain.AttributionChain},
		"an unknown actor":  {ActorIDs: []string{"nobody"}},
	}
	for name, f := range filters {
		page, err := withGrid.FindIncidents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		sqlPage, err := withSQL.FindIncidents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if page.Matched != sqlPage.Matched {
			t.Errorf("%s: numberMatched %d from the grid, %d from SQL", name, page.Matched, sqlPage.Matched)
		}
		if page.Matched == 0 && name != "an unknown actor" {
			t.Fatalf("%s matches nothing: the test would prove nothing", name)
		}
		for i, z := range []int{0, 3, 7, 12, domain.MaxClusterZoom} {
			grid := []*Store{withGrid, rebuilt}[i%2]
			fromGrid, err := grid.ClusterIncidents(ctx, f, z)
			if err != nil {
				t.Fatal(err)
			}
			fromSQL, err := withSQL.ClusterIncidents(ctx, f, z)
			if err != nil {
				t.Fatal(err)
			}
			byCell := func(a, b domain.IncidentCluster) int { return cmp.Or(cmp.Compare(a.X, b.X), cmp.Compare(a.Y, b.Y)) }
			slices.SortFunc(fromGrid, byCell)
			slices.SortFunc(fromSQL, byCell)
			if len(fromGrid) != len(fromSQL) {
				t.Fatalf("%s z%d: %d clusters from the grid, %d from SQL", name, z, len(fromGrid), len(fromSQL))
			}
			total := 0
			for i, g := range fromGrid {
				s := fromSQL[i]
				if g.X != s.X || g.Y != s.Y || g.Count != s.Count || g.MaxSeverity != s.MaxSeverity ||
					math.Abs(g.Center[0]-s.Center[0]) > 1e-9 || math.Abs(g.Center[1]-s.Center[1]) > 1e-9 {
					t.Fatalf("%s z%d: grid %+v, SQL %+v", name, z, g, s)
				}
				if cell := maptile.New(g.X, g.Y, maptile.Zoom(z)).Bound(); math.Abs(g.Center[1]) < 85 && !cell.Pad(1e-9).Contains(g.Center) {
					t.Fatalf("%s z%d: centre %v outside its cell %v", name, z, g.Center, cell)
				}
				total += g.Count
			}
			if total != page.Matched {
				t.Errorf("%s z%d: clusters count %d, numberMatched %d", name, z, total, page.Matched)
			}
		}
	}
	if _, err := withGrid.ClusterIncidents(ctx, domain.IncidentFilter{}, domain.MaxClusterZoom+1); domain.ErrorCodeOf(err) != domain.EINVALID {
		t.Errorf("zoom %d: %v, want EINVALID", domain.MaxClusterZoom+1, err)
	}
}

// TestEveryFilterFieldIsClassified: treeOnlyRest and grid.Counts send a
// filter to the grid by naming the conditions it cannot answer, so a field
// added to domain.IncidentFilter would be silently ignored there. This test
// fails until the new field is classified in both.
func TestEveryFilterFieldIsClassified(t *testing.T) {
	known := []string{"BBox", "Near", "Time", "Types", "ActorIDs", "ActorRoles", "Attribution", "FacilityIDs", "SeverityMin",
		"Statuses", "Countries", "Text", "Where", "SortBy", "Page"}
	typ := reflect.TypeOf(domain.IncidentFilter{})
	var fields []string
	for i := range typ.NumField() {
		fields = append(fields, typ.Field(i).Name)
	}
	if !slices.Equal(fields, known) {
		t.Fatalf("IncidentFilter has fields %v, this test knows %v: classify the new ones in treeOnlyRest and grid.Counts, then here", fields, known)
	}
}
