package storetest_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/storetest"
)

// TestSourceImportKeepsEdits: on both engines, an import marked as a source
// import (ACLED) leaves an incident edited in postwatch as it is when the
// record carries the source values the incident holds; a record whose
// source values changed, or an unmarked import (GeoJSON), writes over the
// edit.
func TestSourceImportKeepsEdits(t *testing.T) {
	for _, tc := range []struct {
		name       string
		source     bool
		fatalities string
		want       domain.ImportOutcome
		wantStatus domain.IncidentStatus
		wantVer    int
	}{
		{"same source values", true, "0", domain.ImportUnchanged, "confirmed", 2},
		{"revised by the source", true, "3", domain.ImportUpdated, "reported", 3},
		{"not a source import", false, "0", domain.ImportUpdated, "reported", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.Open(t)
			source := domain.WithSourceImport(context.Background())
			record := func(fatalities string) *domain.Incident {
				inc := importIncident("IRQ1", "Shelling in Basra")
				inc.Original = map[string]string{"event_id_cnty": "IRQ1", "fatalities": fatalities}
				return inc
			}
			if _, err := db.ImportIncidents(source, []*domain.Incident{record("0")}, nil); err != nil {
				t.Fatal(err)
			}
			page, err := db.FindIncidents(context.Background(), domain.IncidentFilter{Page: domain.Page{Limit: 10}})
			if err != nil || len(page.Items) != 1 {
				t.Fatalf("%v incidents after the import (%v), want 1", page, err)
			}
			edited := *page.Items[0].Incident
			edited.Status, edited.Tags = "confirmed", []string{"verified-by-post"}
			edited.Original = maps.Clone(edited.Original)
			if err := db.ReplaceIncident(context.Background(), edited.ID, &edited, 0); err != nil {
				t.Fatal(err)
			}

			ctx := context.Background()
			if tc.source {
				ctx = source
			}
			results, err := db.ImportIncidents(ctx, []*domain.Incident{record(tc.fatalities)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if results[0].Outcome != tc.want {
				t.Errorf("outcome %s, want %s", results[0].Outcome, tc.want)
			}
			got, err := db.FindIncidentByID(context.Background(), edited.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.wantStatus || got.Version != tc.wantVer || (tc.wantStatus == "confirmed") != slices.Equal(got.Tags, edited.Tags) {
				t.Errorf("status %s, version %d, tags %v; want %s, version %d", got.Status, got.Version, got.Tags, tc.wantStatus, tc.wantVer)
			}
			if got.Original["fatalities"] != tc.fatalities {
				t.Errorf("original fatalities %q, want %q", got.Original["fatalities"], tc.fatalities)
			}
		})
	}
}
