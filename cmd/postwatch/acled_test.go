package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

const acledHeader = "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,tags,timestamp,iso3"

func acledFile(t *testing.T, fatalities string) string {
	t.Helper()
	rows := []string{
		"\ufeff" + acledHeader,
		`IRQ1,2018-09-08,2018,1,Political violence,Explosions/Remote violence,Shelling/artillery/missile attack,Unidentified Armed Group (Iraq),,3,Civilians (Iraq),"Government of the United States (2017-2021); Kata'ib Hezbollah",7,37,Civilian targeting,368,Middle East,Iraq,Basra,Basra,,Basra,30.5489,47.6625,1,Reuters; AP,International,"Three rockets landed near Basra airport, where the U.S. consulate is.",` + fatalities + `,,1536364800,IRQ`,
		`IRQ2,28 September 2018,2018,2,Demonstrations,Protests,Peaceful protest,Protesters (Iraq),,6,,,0,60,,368,Middle East,Iraq,Basra,Basra,,Basra,30.5085,47.7830,2,Shafaq News,National,Protest over water.,0,crowd size=no report,1538092800,IRQ`,
		`IRQ3,2018-09-09,2018,1,Political violence,Battles,Armed clash,A,,1,B,,1,11,,368,Middle East,Iraq,Basra,,,Basra,abc,47.7,1,X,Local,,0,,1,IRQ`,
		`IRQ4,yesterday,2018,1,Political violence,Battles,Armed clash,A,,1,B,,1,11,,368,Middle East,Iraq,Basra,,,Basra,30.5,47.7,1,X,Local,,0,,1,IRQ`,
	}
	path := filepath.Join(t.TempDir(), "acled.csv")
	if err := os.WriteFile(path, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportACLED: the 31-column export (plus a column of an older
// format, a byte order mark and both date forms) loads; bad rows are named
// by line and skipped; a newer file updates instead of duplicating.
func TestImportACLED(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped under -short")
	}
	db := filepath.Join(t.TempDir(), "acled.db")
	res := runCLI(t, "import", "--db", db, "--format", "acled", acledFile(t, "0"))
	if res.code != 0 {
		t.Fatalf("import exited %d: %s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"line 4: rejected: latitude", "line 5: rejected: event_date", "2 created, 0 updated, 2 rejected"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, res.stdout)
		}
	}
	res = runCLI(t, "import", "--db", db, "--format", "acled", acledFile(t, "3"))
	if !strings.Contains(res.stdout, "0 created, 2 updated, 2 rejected") {
		t.Fatalf("a newer file did not update: %s", res.stdout)
	}

	st, err := sqlite.Open(db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.FindIncidents(context.Background(), domain.IncidentFilter{SortBy: domain.SortOccurredAt, Page: domain.Page{Limit: 10}})
	if err != nil || page.Matched != 2 {
		t.Fatalf("%v incidents stored (%v), want 2", page.Matched, err)
	}
	fire, protest := page.Items[0].Incident, page.Items[1].Incident
	checks := []struct {
		name string
		ok   bool
	}{
		{"external id", *fire.ExternalID == "IRQ1" && *protest.ExternalID == "IRQ2"},
		{"types mapped", fire.Type == "indirect_fire" && protest.Type == "protest"},
		{"dates as UTC days", fire.OccurredAt.Format("2006-01-02T15:04Z07:00") == "2018-09-08T00:00Z" && protest.OccurredAt.Format("2006-01-02") == "2018-09-28"},
		{"precisions", fire.TimePrecision == "day" && protest.TimePrecision == "month" && protest.LocationPrecision == "region"},
		{"country from the numeric iso", fire.Country == "IQ"},
		{"coordinates", fire.Location[0] == 47.6625 && fire.Location[1] == 30.5489},
		{"the update took", fire.Casualties.Killed == 3 && fire.Severity == 4 && fire.Version == 2},
		{"actors split on ;", len(fire.Actors) == 4 && fire.Actors[0].Role == "perpetrator" && fire.Actors[3].ActorID == "kataib-hezbollah" && fire.Actors[3].Role == "target"},
		{"sources split on ;", len(fire.Sources) == 2 && fire.Sources[1].Title == "AP"},
		{"tags", len(protest.Tags) == 1 && protest.Tags[0] == "crowd size=no report"},
		{"original values kept", fire.Original["event_type"] == "Explosions/Remote violence" && fire.Original["iso3"] == "IRQ"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %+v / %+v", c.name, fire, protest)
		}
	}
	actor, err := st.FindActorByID(context.Background(), "kataib-hezbollah")
	if err != nil || actor.Name != "Kata'ib Hezbollah" {
		t.Errorf("actor created from the file: %+v, %v", actor, err)
	}
}

// FuzzACLEDRow: any row of an ACLED file is either refused with a field
// named or becomes an incident that validates.
func FuzzACLEDRow(f *testing.F) {
	f.Add(`IRQ1,2018-09-08,2018,1,Political violence,Explosions/Remote violence,Shelling/artillery/missile attack,A,,3,B,C; D,7,37,,368,Middle East,Iraq,Basra,,,Basra,30.5,47.6,1,Reuters; AP,International,notes,0,,1,IRQ`)
	f.Add(`X,28 September 2018,2018,3,,Protests,,P,,6,,,0,60,,999,,,,,,,95,200,3,,,,-1,,1,`)
	f.Add(`"unterminated,`)
	f.Fuzz(func(t *testing.T, row string) {
		r := bufio.NewReader(strings.NewReader(acledHeader + "\n" + row + "\n"))
		var out []importRecord
		if err := readACLED(context.Background(), r, func(rec importRecord) { out = append(out, rec) }); err != nil {
			return // the header is fixed, so only a broken row can end here
		}
		for _, rec := range out {
			if rec.err != nil {
				if domain.ErrorCodeOf(rec.err) != domain.EINVALID {
					t.Fatalf("%s: %v", rec.where, rec.err)
				}
				continue
			}
			if err := rec.incident.Validate(); err != nil && domain.ErrorCodeOf(err) != domain.EINVALID {
				t.Fatalf("%s: %v", rec.where, err)
			}
		}
	})
}
