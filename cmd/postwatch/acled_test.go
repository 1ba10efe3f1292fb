package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

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
// by line and skipped, and make the command exit non-zero; a newer file
// updates instead of duplicating, and the same file again changes nothing.
func TestImportACLED(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped under -short")
	}
	db := filepath.Join(t.TempDir(), "acled.db")
	res := runCLI(t, "import", "--db", db, "--format", "acled", acledFile(t, "0"))
	if res.code != 1 || !strings.Contains(res.stderr, "2 records rejected") {
		t.Fatalf("import with rejected rows exited %d, want 1: %s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"line 4: rejected: latitude", "line 5: rejected: event_date", "2 created, 0 updated, 0 unchanged, 2 rejected"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, res.stdout)
		}
	}
	res = runCLI(t, "import", "--db", db, "--format", "acled", acledFile(t, "3"))
	if !strings.Contains(res.stdout, "0 created, 1 updated, 1 unchanged, 2 rejected") {
		t.Fatalf("a newer file did not update the one event it changes: %s", res.stdout)
	}
	res = runCLI(t, "import", "--db", db, "--format", "acled", acledFile(t, "3"))
	if !strings.Contains(res.stdout, "0 created, 0 updated, 2 unchanged, 2 rejected") {
		t.Fatalf("the same file again changed something: %s", res.stdout)
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
		{"the update took, once", fire.Casualties.Killed == 3 && fire.Severity == 4 && fire.Version == 2},
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

// acledImport imports text as an ACLED file into db in this process and
// returns what the command printed and returned.
func acledImport(t *testing.T, db, text string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "acled.csv")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err = importFile(context.Background(), append(append([]string{"--db", db, "--format", "acled"}, args...), path), &out, &errOut)
	if err != nil && !errors.As(err, new(rejectedError)) {
		t.Fatalf("import failed: %v\n%s%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String(), err
}

// storedIncidents reads every incident of db by external id.
func storedIncidents(t *testing.T, db string) map[string]domain.Incident {
	t.Helper()
	st, err := sqlite.Open(db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.FindIncidents(context.Background(), domain.IncidentFilter{SortBy: domain.SortOccurredAt, Page: domain.Page{Limit: 10000}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]domain.Incident{}
	for _, it := range page.Items {
		out[*it.Incident.ExternalID] = *it.Incident
	}
	return out
}

// acledRowOf is a row of acledHeader with the given columns changed.
func acledRowOf(id string, set map[string]string) string {
	return acledRowSep(id, set, ",")
}

// acledRowSep is acledRowOf with another separator; values holding it
// are quoted.
func acledRowSep(id string, set map[string]string, sep string) string {
	cols := strings.Split(acledHeader, ",")
	vals := map[string]string{
		"event_id_cnty": id, "event_date": "2020-05-09", "year": "2020", "time_precision": "1", "disorder_type": "Political violence",
		"event_type": "Battles", "sub_event_type": "Armed clash", "actor1": "Military Forces of Iraq (2018-)", "inter1": "1",
		"actor2": "Islamic State (Iraq)", "inter2": "2", "interaction": "12", "iso": "368", "region": "Middle East", "country": "Iraq",
		"admin1": "Baghdad", "location": "Baghdad", "latitude": "33.3", "longitude": "44.4", "geo_precision": "1", "source": "Reuters",
		"notes": "Clash.", "fatalities": "0", "timestamp": "1589000000", "iso3": "IRQ",
	}
	for k, v := range set {
		vals[k] = v
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = vals[c]
		if sep != "," && strings.Contains(out[i], sep) {
			out[i] = `"` + out[i] + `"`
		}
	}
	return strings.Join(out, sep)
}

type acledWant struct {
	typ      domain.IncidentType
	day      string
	country  string
	actors   []domain.IncidentActor // nil: not checked
	original map[string]string
	notes    string
}

func checkACLEDIncident(t *testing.T, id string, got domain.Incident, want acledWant) {
	t.Helper()
	if want.typ != "" && got.Type != want.typ {
		t.Errorf("%s: type %s, want %s", id, got.Type, want.typ)
	}
	if want.day != "" && !got.OccurredAt.Equal(mustDay(want.day)) {
		t.Errorf("%s: occurred_at %s, want %s 00:00 UTC", id, got.OccurredAt, want.day)
	}
	if got.Country != want.country {
		t.Errorf("%s: country %q, want %q", id, got.Country, want.country)
	}
	if want.actors != nil && !slices.Equal(got.Actors, want.actors) {
		t.Errorf("%s: actors %v, want %v", id, got.Actors, want.actors)
	}
	for k, v := range want.original {
		if got.Original[k] != v {
			t.Errorf("%s: original %s = %q, want %q (original %v)", id, k, got.Original[k], v, got.Original)
		}
	}
	if want.notes != "" && got.Description != want.notes {
		t.Errorf("%s: description %q, want %q", id, got.Description, want.notes)
	}
}

func mustDay(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func perp(id string) domain.IncidentActor {
	return domain.IncidentActor{ActorID: id, Role: "perpetrator"}
}
func target(id string) domain.IncidentActor { return domain.IncidentActor{ActorID: id, Role: "target"} }

// TestImportACLEDAsHeld: files as analysts hold them (re-saved by Excel,
// written by R, monadic, the 2015 layout, 2024 text actor types, quoted
// line breaks, a stray quote, a cut last row) load what they can, name by
// line what they cannot, and exit non-zero exactly when a row was refused.
func TestImportACLEDAsHeld(t *testing.T) {
	const header2015 = "GWNO,EVENT_ID_CNTY,EVENT_ID_NO_CNTY,EVENT_DATE,YEAR,TIME_PRECISION,EVENT_TYPE,ACTOR1,ALLY_ACTOR_1,INTER1,ACTOR2,ALLY_ACTOR_2,INTER2,INTERACTION,COUNTRY,ADMIN1,ADMIN2,ADMIN3,LOCATION,LATITUDE,LONGITUDE,GEO_PRECISION,SOURCE,NOTES,FATALITIES"
	tests := []struct {
		name     string
		text     string
		summary  string
		rejected map[string]string // "line N" → a part of the reason
		want     map[string]acledWant
	}{
		{
			name: "Excel re-save: CRLF, d-Mon-yy and other spreadsheet dates",
			text: strings.Join([]string{acledHeader,
				acledRowOf("E1", map[string]string{"event_date": "9-May-20"}),
				acledRowOf("E2", map[string]string{"event_date": "28-Sep-18"}),
				acledRowOf("E3", map[string]string{"event_date": "28-September-2018"}),
				acledRowOf("E4", map[string]string{"event_date": `"September 28, 2018"`}),
				acledRowOf("E5", map[string]string{"event_date": "28/09/2018"}),
				acledRowOf("E6", map[string]string{"event_date": "09/28/2018"}),
				acledRowOf("E7", map[string]string{"event_date": "03/04/2018"}),
				acledRowOf("E8", map[string]string{"event_date": "28 SEPTEMBER 2018"}),
				strings.Repeat(",", strings.Count(acledHeader, ",")), // rows Excel leaves below the data
				"  ",
			}, "\r\n") + "\r\n",
			summary:  "7 created, 0 updated, 0 unchanged, 1 rejected",
			rejected: map[string]string{"line 8": `event_date: "03/04/2018" is ambiguous`},
			want: map[string]acledWant{
				"E1": {day: "2020-05-09", country: "IQ"}, "E2": {day: "2018-09-28", country: "IQ"}, "E3": {day: "2018-09-28", country: "IQ"},
				"E4": {day: "2018-09-28", country: "IQ"}, "E5": {day: "2018-09-28", country: "IQ"}, "E6": {day: "2018-09-28", country: "IQ"},
				"E8": {day: "2018-09-28", country: "IQ"},
			},
		},
		{
			name: "Excel in a European locale: semicolons, decimal commas, Windows-1252 text",
			text: strings.ReplaceAll(acledHeader, ",", ";") + "\r\n" +
				acledRowSep("X1", map[string]string{"latitude": "33,3", "longitude": "44,4", "source": "Reuters; AP", "event_date": "28.09.2018",
					"notes": "Manifestation devant l'ambassade \xe0 Abidjan.", "iso": "384", "country": "C\xf4te d'Ivoire"}, ";") + "\r\n",
			summary: "1 created, 0 updated, 0 unchanged, 0 rejected",
			want: map[string]acledWant{"X1": {day: "2018-09-28", country: "CI", notes: "Manifestation devant l'ambassade à Abidjan.",
				original: map[string]string{"country": "Côte d'Ivoire", "source": "Reuters; AP"}}},
		},
		{
			name: "Excel's sep= line names the separator and counts as a line",
			text: "sep=;\r\n" + strings.ReplaceAll(acledHeader, ",", ";") + "\r\n" +
				acledRowSep("SP1", map[string]string{"latitude": "33,3", "source": "Reuters, AP"}, ";") + "\r\n" +
				acledRowSep("SP2", map[string]string{"latitude": "north"}, ";") + "\r\n",
			summary:  "1 created, 0 updated, 0 unchanged, 1 rejected",
			rejected: map[string]string{"line 4": `latitude: "north"`},
			want:     map[string]acledWant{"SP1": {country: "IQ", original: map[string]string{"source": "Reuters, AP", "latitude": "33,3"}}},
		},
		{
			name:    "old Mac spreadsheets: CR alone ends a line",
			text:    acledHeader + "\r" + acledRowOf("CR1", nil) + "\r" + acledRowOf("CR2", map[string]string{"notes": "\"two\rlines\""}) + "\r",
			summary: "2 created, 0 updated, 0 unchanged, 0 rejected",
			want:    map[string]acledWant{"CR1": {country: "IQ"}, "CR2": {country: "IQ", notes: "two\nlines"}},
		},
		{
			name: "R write.csv: a row-name column, every cell quoted, NA for empty, ISO datetimes",
			text: `"",` + quoteAll(acledHeader) + "\n" +
				`"1",` + quoteAll(acledRowOf("R1", map[string]string{"event_date": "2021-01-02T00:00:00Z", "actor2": "NA", "inter2": "NA", "assoc_actor_1": "NA", "fatalities": "NA", "tags": "NA"})) + "\n" +
				`"2",` + quoteAll(acledRowOf("R2", map[string]string{"event_date": "2021-01-03 00:00:00", "iso": "NA", "iso3": "NGA", "country": "NA"})) + "\n" +
				`"3",` + quoteAll(acledRowOf("R3", map[string]string{"event_date": "2021-01-04T23:00:00-05:00"})) + "\n",
			summary: "3 created, 0 updated, 0 unchanged, 0 rejected",
			want: map[string]acledWant{
				"R1": {day: "2021-01-02", country: "IQ", actors: []domain.IncidentActor{perp("military-forces-of-iraq-2018")}, original: map[string]string{"actor2": ""}},
				"R2": {day: "2021-01-03", country: "NG"},
				"R3": {day: "2021-01-04", country: "IQ"},
			},
		},
		{
			name: "monadic: one event as two rows becomes one incident with both actors",
			text: strings.Join([]string{acledHeader,
				acledRowOf("M1", map[string]string{"event_type": "Riots", "sub_event_type": "Mob violence", "actor1": "Rioters (Kenya)", "inter1": "5", "actor2": "", "inter2": "", "interaction": "57", "iso": "404"}),
				acledRowOf("M1", map[string]string{"event_type": "Riots", "sub_event_type": "Mob violence", "actor1": "Civilians (Kenya)", "inter1": "7", "actor2": "", "inter2": "", "interaction": "57", "iso": "404"}),
				acledRowOf("M2", map[string]string{"event_type": "Violence against civilians", "sub_event_type": "Attack", "actor1": "Civilians (Mali)", "inter1": "7", "actor2": "", "inter2": "", "interaction": "27", "iso": "466"}),
				acledRowOf("M2", map[string]string{"event_type": "Violence against civilians", "sub_event_type": "Attack", "actor1": "JNIM: Group for Support of Islam and Muslims", "inter1": "2", "actor2": "", "inter2": "", "interaction": "27", "iso": "466"}),
				acledRowOf("D1", nil),
				acledRowOf("D1", nil), // a dyadic row given twice
			}, "\n") + "\n",
			summary: "3 created, 0 updated, 0 unchanged, 0 rejected",
			want: map[string]acledWant{
				"M1": {typ: "riot", country: "KE", actors: []domain.IncidentActor{perp("rioters-kenya"), target("civilians-kenya")},
					original: map[string]string{"actor1": "Civilians (Kenya); Rioters (Kenya)", "inter1": "5; 7"}},
				"M2": {typ: "direct_fire", country: "ML", actors: []domain.IncidentActor{perp("jnim-group-for-support-of-islam-and-muslims"), target("civilians-mali")}},
				"D1": {typ: "direct_fire", country: "IQ", actors: []domain.IncidentActor{perp("military-forces-of-iraq-2018"), target("islamic-state-iraq")}},
			},
		},
		{
			name: "the 2015 layout: upper-case headers, ALLY_ACTOR_1, GWNO, no sub-event type, country by name",
			text: header2015 + "\n" +
				`490,DRC1,1,2015-03-02,2015,1,Battle-No change of territory,Military Forces of Democratic Republic of Congo (2001-),Police Forces of Democratic Republic of Congo (2001-),1,FDLR: Democratic Forces for the Liberation of Rwanda,,2,12,Democratic Republic of Congo,Nord-Kivu,,,Goma,-1.68,29.22,1,Radio Okapi,Notes.,2` + "\n" +
				`484,CG1,2,2015-03-03,2015,1,Remote violence,Unidentified Armed Group (Republic of Congo),,3,,,0,30,Republic of Congo,Pool,,,Kinkala,-4.36,14.76,2,AFP,Notes.,0` + "\n",
			summary: "2 created, 0 updated, 0 unchanged, 0 rejected",
			want: map[string]acledWant{
				"DRC1": {typ: "direct_fire", day: "2015-03-02", country: "CD",
					actors:   []domain.IncidentActor{perp("military-forces-of-democratic-republic-of-congo-2001"), perp("police-forces-of-democratic-republic-of-congo-2001"), target("fdlr-democratic-forces-for-the-liberation-of-rwanda")},
					original: map[string]string{"assoc_actor_1": "Police Forces of Democratic Republic of Congo (2001-)", "gwno": "", "event_id_no_cnty": "1"}},
				"CG1": {typ: "other", country: "CG"},
			},
		},
		{
			name: "types: sexual violence, looting and grenades are not fire or arson; 2024 actor types by name",
			text: strings.Join([]string{acledHeader,
				acledRowOf("T1", map[string]string{"event_type": "Violence against civilians", "sub_event_type": "Sexual violence", "actor2": "Civilians (Iraq)", "inter2": "Civilians"}),
				acledRowOf("T2", map[string]string{"event_type": "Strategic developments", "sub_event_type": "Looting/property destruction"}),
				acledRowOf("T3", map[string]string{"event_type": "Explosions/Remote violence", "sub_event_type": "Grenade"}),
				acledRowOf("T4", map[string]string{"event_type": "Protests", "sub_event_type": "Excessive force against protesters", "actor1": "Protesters (Iraq)", "inter1": "Protesters", "actor2": "Police Forces of Iraq (2018-)", "inter2": "State forces"}),
			}, "\n") + "\n",
			summary: "4 created, 0 updated, 0 unchanged, 0 rejected",
			want: map[string]acledWant{
				"T1": {typ: "other", country: "IQ", actors: []domain.IncidentActor{perp("military-forces-of-iraq-2018"), target("civilians-iraq")}},
				"T2": {typ: "other", country: "IQ"},
				"T3": {typ: "other", country: "IQ"},
				"T4": {typ: "protest", country: "IQ", actors: []domain.IncidentActor{perp("police-forces-of-iraq-2018"), target("protesters-iraq")}},
			},
		},
		{
			name: "numeric ISO codes decide the country, whatever the name says",
			text: strings.Join([]string{acledHeader,
				acledRowOf("N1", map[string]string{"iso": "566", "country": "Nigeria (North)", "iso3": ""}),
				acledRowOf("N2", map[string]string{"iso": "004", "country": "", "iso3": ""}),
				acledRowOf("N3", map[string]string{"iso": "0", "country": "Kosovo", "iso3": ""}),
				acledRowOf("N4", map[string]string{"iso": "", "country": "Akrotiri and Dhekelia", "iso3": ""}),
			}, "\n") + "\n",
			summary: "4 created, 0 updated, 0 unchanged, 0 rejected",
			want:    map[string]acledWant{"N1": {country: "NG"}, "N2": {country: "AF"}, "N3": {country: "XK"}, "N4": {country: ""}},
		},
		{
			name: "CRLF inside quotes is a line break of the cell",
			text: acledHeader + "\r\n" + acledRowOf("Q1", map[string]string{"notes": "\"Line one,\r\nline \"\"two\"\".\r\n\"", "fatalities": "1"}) + "\r\n" +
				acledRowOf("Q2", nil) + "\r\n",
			summary: "2 created, 0 updated, 0 unchanged, 0 rejected",
			want:    map[string]acledWant{"Q1": {country: "IQ", notes: "Line one,\nline \"two\"."}, "Q2": {country: "IQ"}},
		},
		{
			name: "a stray quote is one rejected row; the rows after it load",
			text: strings.Join([]string{acledHeader,
				acledRowOf("S1", nil),
				acledRowOf("S2", map[string]string{"notes": `"Three rockets, one unexploded`}),
				acledRowOf("S3", nil),
				acledRowOf("S4", map[string]string{"notes": `"Quoted, as Excel writes it."`}),
				acledRowOf("S5", nil),
			}, "\n") + "\n",
			summary:  "4 created, 0 updated, 0 unchanged, 1 rejected",
			rejected: map[string]string{"line 3": "quoted cell opened on this line"},
			want:     map[string]acledWant{"S1": {country: "IQ"}, "S3": {country: "IQ"}, "S4": {country: "IQ", notes: "Quoted, as Excel writes it."}, "S5": {country: "IQ"}},
		},
		{
			name: "a stray quote that never closes: the rows after it load",
			text: strings.Join([]string{acledHeader,
				acledRowOf("U1", map[string]string{"notes": `"never closed`}),
				acledRowOf("U2", nil),
				acledRowOf("U3", nil),
			}, "\n") + "\n",
			summary:  "2 created, 0 updated, 0 unchanged, 1 rejected",
			rejected: map[string]string{"line 2": "never closes"},
			want:     map[string]acledWant{"U2": {country: "IQ"}, "U3": {country: "IQ"}},
		},
		{
			name: "a multi-line row a cell short is rejected whole, once: a row inside its quoted notes is text",
			text: strings.Join([]string{acledHeader,
				acledRowOf("P1", nil),
				strings.TrimSuffix(acledRowOf("P2", map[string]string{"notes": "\"First line.\n" + acledRowOf("PHANTOM", nil) + "\nLast line.\""}), ",IRQ"),
				acledRowOf("P3", nil),
			}, "\n") + "\n",
			summary:  "2 created, 0 updated, 0 unchanged, 1 rejected",
			rejected: map[string]string{"line 3": "has 31 cells, the header 32 (the record spans lines 3-5"},
			want:     map[string]acledWant{"P1": {country: "IQ"}, "P3": {country: "IQ"}},
		},
		{
			name:     "a truncated last row is rejected by line",
			text:     acledHeader + "\n" + acledRowOf("C1", nil) + "\n" + acledRowOf("C2", nil)[:40],
			summary:  "1 created, 0 updated, 0 unchanged, 1 rejected",
			rejected: map[string]string{"line 3": "row: has "},
			want:     map[string]acledWant{"C1": {country: "IQ"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "a.db")
			stdout, _, err := acledImport(t, db, tc.text)
			if !strings.Contains(stdout, "imported ") || !strings.Contains(stdout, tc.summary) {
				t.Errorf("summary: want %q:\n%s", tc.summary, stdout)
			}
			if (err != nil) != (len(tc.rejected) > 0) {
				t.Errorf("import returned %v with %d rows expected rejected", err, len(tc.rejected))
			}
			lines := regexp.MustCompile(`(?m)^(line \d+): rejected: (.*)$`).FindAllStringSubmatch(stdout, -1)
			if len(lines) != len(tc.rejected) {
				t.Errorf("rejected %d rows, want %d:\n%s", len(lines), len(tc.rejected), stdout)
			}
			for _, m := range lines {
				if want, ok := tc.rejected[m[1]]; !ok || !strings.Contains(m[2], want) {
					t.Errorf("%s rejected for %q, want a reason with %q", m[1], m[2], want)
				}
			}
			got := storedIncidents(t, db)
			if len(got) != len(tc.want) {
				t.Errorf("%d incidents stored, want %d", len(got), len(tc.want))
			}
			for id, w := range tc.want {
				inc, ok := got[id]
				if !ok {
					t.Errorf("%s not stored", id)
					continue
				}
				checkACLEDIncident(t, id, inc, w)
			}
			if strings.Contains(stdout, "na:") || got["R1"].Casualties.Killed != 0 {
				t.Errorf("NA read as a value: %+v", got["R1"])
			}
		})
	}
}

// quoteAll quotes every cell of a row without quotes, as R's write.csv does.
func quoteAll(row string) string {
	cells := strings.Split(row, ",")
	for i, c := range cells {
		if c != "NA" {
			cells[i] = `"` + c + `"`
		}
	}
	return strings.Join(cells, ",")
}

// TestImportACLEDMonadicAcrossChunks: the rows of monadic events merge
// wherever the pipeline's chunks end, and importing the file again leaves
// every incident as it was: no update, no new version.
func TestImportACLEDMonadicAcrossChunks(t *testing.T) {
	var b strings.Builder
	b.WriteString(acledHeader + "\n")
	events := importChunkRecords + 300
	for n := range events {
		id := fmt.Sprintf("K%d", n)
		b.WriteString(acledRowOf(id, map[string]string{"actor1": "Rioters (Kenya)", "inter1": "5", "actor2": "", "inter2": "", "iso": "404"}) + "\n")
		if n%2 == 0 {
			b.WriteString(acledRowOf(id, map[string]string{"actor1": "Civilians (Kenya)", "inter1": "7", "actor2": "", "inter2": "", "iso": "404"}) + "\n")
		}
	}
	db := filepath.Join(t.TempDir(), "m.db")
	stdout, _, err := acledImport(t, db, b.String())
	if err != nil || !strings.Contains(stdout, fmt.Sprintf("%d created, 0 updated, 0 unchanged, 0 rejected", events)) {
		t.Fatalf("first import (%v):\n%s", err, stdout)
	}
	stdout, _, err = acledImport(t, db, b.String())
	if err != nil || !strings.Contains(stdout, fmt.Sprintf("0 created, 0 updated, %d unchanged, 0 rejected", events)) {
		t.Fatalf("second import changed something (%v):\n%s", err, stdout)
	}
	got := storedIncidents(t, db)
	for n := range events {
		inc := got[fmt.Sprintf("K%d", n)]
		want := []domain.IncidentActor{perp("rioters-kenya")}
		if n%2 == 0 {
			want = append(want, target("civilians-kenya"))
		}
		if !slices.Equal(inc.Actors, want) || inc.Version != 1 {
			t.Fatalf("K%d: actors %v version %d, want %v version 1", n, inc.Actors, inc.Version, want)
		}
	}
}

// TestImportRejectsFile: --rejects takes the rejected rows off stdout into
// a file; progress goes to stderr as lines when it is not a terminal.
func TestImportRejectsFile(t *testing.T) {
	defer func(d time.Duration) { progressLogEvery = d }(progressLogEvery)
	progressLogEvery = 0
	dir := t.TempDir()
	rejects := filepath.Join(dir, "rejects.txt")
	text := strings.Join([]string{acledHeader, acledRowOf("F1", nil), acledRowOf("F2", map[string]string{"latitude": "north"}), acledRowOf("F3", nil)}, "\n") + "\n"
	stdout, stderr, err := acledImport(t, filepath.Join(dir, "r.db"), text, "--rejects", rejects)
	if !errors.As(err, new(rejectedError)) {
		t.Errorf("import returned %v, want a rejectedError", err)
	}
	if strings.Contains(stdout, "rejected: ") || !strings.Contains(stdout, "2 created, 0 updated, 0 unchanged, 1 rejected") || !strings.Contains(stdout, rejects) {
		t.Errorf("stdout:\n%s", stdout)
	}
	b, err := os.ReadFile(rejects)
	if err != nil || !strings.HasPrefix(string(b), "line 3: rejected: latitude") {
		t.Errorf("rejects file: %q, %v", b, err)
	}
	if !regexp.MustCompile(`(?m)^import: \d+ records, \d+ records/s`).MatchString(stderr) {
		t.Errorf("no progress line on stderr:\n%s", stderr)
	}
}

// TestParseACLEDDate: every unambiguous form is one UTC calendar day; an
// ambiguous or impossible one is refused saying why.
func TestParseACLEDDate(t *testing.T) {
	for in, want := range map[string]string{
		"2018-09-28": "2018-09-28", "2018-9-8": "2018-09-08", "28 September 2018": "2018-09-28", "28-September-2018": "2018-09-28",
		"28-Sep-18": "2018-09-28", "9-May-20": "2020-05-09", "9-may-97": "1997-05-09", "2018-09-28T00:00:00Z": "2018-09-28",
		"2018-09-28T23:30:00-05:00": "2018-09-28", "2018-09-28 00:00:00": "2018-09-28", "September 28, 2018": "2018-09-28",
		"Friday, September 28, 2018": "2018-09-28", "28/09/2018": "2018-09-28", "9/28/2018": "2018-09-28", "03/03/2018": "2018-03-03",
		"28.09.18": "2018-09-28", "2018/09/28": "2018-09-28",
	} {
		got, err := parseACLEDDate(in)
		if err != nil || !got.Equal(mustDay(want)) || got.Location() != time.UTC {
			t.Errorf("parseACLEDDate(%q) = %v, %v; want %s UTC", in, got, err, want)
		}
	}
	for in, why := range map[string]string{"03/04/2018": "ambiguous", "3/4/18": "ambiguous", "31/02/2018": "not a date", "yesterday": "not a date", "": "required", "2018-13-01": "not a date", "13/13/2018": "not a date"} {
		if _, err := parseACLEDDate(in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("parseACLEDDate(%q) = %v, want an error saying %q", in, err, why)
		}
	}
}

// FuzzACLEDHeader: any header row either names the required columns it
// lacks or maps each field to one column of its own, the same in any case.
func FuzzACLEDHeader(f *testing.F) {
	f.Add(acledHeader)
	f.Add("GWNO,EVENT_ID_CNTY,EVENT_DATE,EVENT_TYPE,ALLY_ACTOR_1,LATITUDE,LONGITUDE")
	f.Add(`"",event_id_cnty,event_date,event_type,latitude,longitude,latitude,"Event-Type"`)
	f.Add("\ufeffevent_id_cnty ,\tEVENT_DATE,event type,latitude,longitude,derived_column")
	f.Fuzz(func(t *testing.T, line string) {
		header, _, err := newCSVRecords(bufio.NewReader(strings.NewReader(line + "\n"))).Read()
		if err != nil {
			return
		}
		l, err := mapACLEDHeader(header)
		if isASCII(line) {
			// Case does not matter (beyond ASCII, upper-casing can
			// change a name's length or letters).
			upper := make([]string, len(header))
			for i, h := range header {
				upper[i] = strings.ToUpper(h)
			}
			lu, errU := mapACLEDHeader(upper)
			if (err == nil) != (errU == nil) || (err == nil && lu.index != l.index) {
				t.Fatalf("the upper-case header maps otherwise: %v, %v", err, errU)
			}
		}
		if err != nil {
			if !strings.Contains(err.Error(), "lacks") && !strings.Contains(err.Error(), "twice") {
				t.Fatalf("error %v names neither what is missing nor what is doubled", err)
			}
			return
		}
		used := map[int]bool{}
		for field, i := range l.index {
			if i < -1 || i >= len(header) || (i >= 0 && used[i]) {
				t.Fatalf("field %s at column %d of %d (used twice: %v)", acledColumns[field], i, len(header), used[i])
			}
			if i >= 0 {
				used[i] = true
				if l.names[i] != acledColumns[field] {
					t.Fatalf("column %d is kept as %q, read as %s", i, l.names[i], acledColumns[field])
				}
			}
		}
		for _, f := range acledRequired {
			if l.index[f] < 0 {
				t.Fatalf("required %s absent without an error", acledColumns[f])
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzACLEDRow: any row of an ACLED file is either refused with a field
// named or becomes an incident that validates.
func FuzzACLEDRow(f *testing.F) {
	f.Add(`IRQ1,2018-09-08,2018,1,Political violence,Explosions/Remote violence,Shelling/artillery/missile attack,A,,3,B,C; D,7,37,,368,Middle East,Iraq,Basra,,,Basra,30.5,47.6,1,Reuters; AP,International,notes,0,,1,IRQ`)
	f.Add(`X,28 September 2018,2018,3,,Protests,,P,,6,,,0,60,,999,,,,,,,95,200,3,,,,-1,,1,`)
	f.Add(`"unterminated,`)
	f.Add("X,9-May-20,2020,1,,Riots,Mob violence,NA,NA,NA,\"a\r\nb\",,7,57,,404,,,,,,,1,1,1,,,,NA,,1,KEN\nX,9-May-20,2020,1,,Riots,Mob violence,Civilians,,7,,,,57,,404,,,,,,,1,1,1,,,,3.0,,1,KEN")
	f.Fuzz(func(t *testing.T, row string) {
		r := bufio.NewReader(strings.NewReader(acledHeader + "\n" + row + "\n"))
		var out []importRecord
		if err := readACLED(context.Background(), r, func(rec importRecord) { out = append(out, rec) }); err != nil {
			t.Fatalf("the header is fixed, yet the file was refused: %v", err)
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
			for _, a := range rec.incident.Actors {
				if a.ActorID == "na" || a.ActorID == "n-a" {
					t.Fatalf("%s: NA became an actor", rec.where)
				}
			}
		}
	})
}

// TestImportACLEDEventRowCap: one event takes at most acledMaxEventRows
// rows, so a file of one id repeated cannot make one record without bound.
func TestImportACLEDEventRowCap(t *testing.T) {
	rows := []string{acledHeader}
	for n := range acledMaxEventRows + 2 {
		rows = append(rows, acledRowOf("BIG", map[string]string{"actor1": fmt.Sprintf("Militia %d", n), "actor2": "", "inter2": ""}))
	}
	db := filepath.Join(t.TempDir(), "cap.db")
	stdout, _, err := acledImport(t, db, strings.Join(rows, "\n")+"\n")
	if err == nil || !strings.Contains(stdout, "1 created, 0 updated, 0 unchanged, 2 rejected") ||
		!strings.Contains(stdout, fmt.Sprintf("line %d: rejected: event_id_cnty: event \"BIG\" has more than %d rows", acledMaxEventRows+2, acledMaxEventRows)) {
		t.Fatalf("import (%v):\n%s", err, stdout)
	}
	if got := storedIncidents(t, db)["BIG"]; len(got.Actors) != acledMaxEventRows {
		t.Errorf("the event has %d actors, want %d", len(got.Actors), acledMaxEventRows)
	}
}

// readACLEDText reads text as an ACLED file and returns its records, or
// the error that refused the file.
func readACLEDText(t *testing.T, text string) ([]importRecord, error) {
	t.Helper()
	var out []importRecord
	err := readACLED(context.Background(), bufio.NewReader(strings.NewReader(text)), func(rec importRecord) { out = append(out, rec) })
	return out, err
}

// TestACLEDRowChecks: one row with one cell changed either loads or is
// rejected with a reason that names its column.
func TestACLEDRowChecks(t *testing.T) {
	tests := []struct {
		name   string
		set    map[string]string
		reason string // "": the row loads
	}{
		{"a plain latitude", map[string]string{"latitude": "-33.25"}, ""},
		{"a decimal comma", map[string]string{"latitude": `"33,25"`}, ""},
		{"a decimal exponent, as R writes small numbers", map[string]string{"latitude": "1e-04"}, ""},
		{"a hex float latitude", map[string]string{"latitude": "0x1p-2"}, `latitude: "0x1p-2" is not a decimal number`},
		{"an infinite longitude", map[string]string{"longitude": "Inf"}, `longitude: "Inf" is not a decimal number`},
		{"a NaN latitude", map[string]string{"latitude": "NaN"}, `latitude: "NaN" is not a decimal number`},
		{"underscores in a latitude", map[string]string{"latitude": "3_3.3"}, `latitude: "3_3.3" is not a decimal number`},
		{"whole fatalities as R writes them", map[string]string{"fatalities": "3.0"}, ""},
		{"hex fatalities", map[string]string{"fatalities": "0x10"}, `fatalities: "0x10" is not a count`},
		{"a hex iso code", map[string]string{"iso": "0x170"}, `iso: "0x170" is not a whole number`},
		{"an iso code with zeros", map[string]string{"iso": "004"}, ""},
		{"a time precision in binary", map[string]string{"time_precision": "0b1"}, `time_precision: "0b1" is not a whole number`},
		{"a geo precision that is text", map[string]string{"geo_precision": "abc"}, `geo_precision: "abc" is not a whole number`},
		{"a year with an underscore", map[string]string{"year": "2_020"}, `year: "2_020" is not a whole number`},
		{"an actor type by name", map[string]string{"inter1": "State forces"}, ""},
		{"a hex actor type", map[string]string{"inter1": "0x1"}, `inter1: "0x1" is neither an actor type code nor the name of one`},
		{"an infinite actor type", map[string]string{"inter2": "+Inf"}, `inter2: "+Inf" is neither`},
		{"an actor1 of 600 characters", map[string]string{"actor1": strings.Repeat("Militia ", 75)},
			`actor1: actor "Militia Militia Militia Militia Militia …": name is longer than 200 characters`},
		{"a long associated actor", map[string]string{"assoc_actor_2": "Wagner Group; " + strings.Repeat("w", 201)}, `assoc_actor_2: actor "wwww`},
		{"an actor2 of 200 characters", map[string]string{"actor2": strings.Repeat("v", 200)}, ""},
		{"an actor with a control character", map[string]string{"actor2": "Militia\x01 (Iraq)"}, `actor2: actor "Militia\x01 (Iraq)": name `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := readACLEDText(t, acledHeader+"\n"+acledRowOf("C1", tc.set)+"\n")
			if err != nil || len(recs) != 1 {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			switch got := recs[0].err; {
			case tc.reason == "" && got != nil:
				t.Errorf("rejected: %v", got)
			case tc.reason != "" && (got == nil || !strings.Contains(got.Error(), tc.reason)):
				t.Errorf("rejected for %v, want %q", got, tc.reason)
			}
		})
	}
}

// TestACLEDTitle: an event's title is "what in where" with no separator
// leading or trailing, whichever parts are empty, and without event_type
// the row is rejected.
func TestACLEDTitle(t *testing.T) {
	long := strings.Repeat("x", 197)
	tests := []struct {
		name  string
		set   map[string]string
		title string // "": rejected, naming event_type
	}{
		{"every part", nil, "Armed clash in Baghdad, Baghdad, Iraq"},
		{"no sub-event type", map[string]string{"sub_event_type": ""}, "Battles in Baghdad, Baghdad, Iraq"},
		{"no location nor admin1", map[string]string{"location": "", "admin1": ""}, "Armed clash in Iraq"},
		{"no place at all", map[string]string{"location": "", "admin1": "NA", "country": " "}, "Armed clash"},
		{"a place of spaces only", map[string]string{"location": "  ", "admin1": "", "country": ""}, "Armed clash"},
		{"a type too long for any place", map[string]string{"sub_event_type": long}, long},
		{"cut inside the place's separator", map[string]string{"sub_event_type": strings.Repeat("y", 188), "location": "Baghdad", "admin1": "Karkh"},
			strings.Repeat("y", 188) + " in Baghdad"},
		{"no event type", map[string]string{"event_type": ""}, ""},
		{"an event type of NA", map[string]string{"event_type": "NA", "sub_event_type": ""}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := readACLEDText(t, acledHeader+"\n"+acledRowOf("T1", tc.set)+"\n")
			if err != nil || len(recs) != 1 {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			rec := recs[0]
			if tc.title == "" {
				if rec.err == nil || !strings.Contains(rec.err.Error(), "event_type: is required") {
					t.Errorf("read as %v, want rejected for its event_type", rec.err)
				}
				return
			}
			if rec.err != nil || rec.incident.Title != tc.title {
				t.Errorf("title %q (%v), want %q", rec.incident.Title, rec.err, tc.title)
			}
		})
	}
}

// TestACLEDNoValue: NA and N/A in any case are empty cells: never an
// actor, a count or a code.
func TestACLEDNoValue(t *testing.T) {
	for _, na := range []string{"NA", "na", "Na", "nA", "N/A", "n/a", "N/a", "#N/A", "NULL"} {
		t.Run(na, func(t *testing.T) {
			recs, err := readACLEDText(t, acledHeader+"\n"+acledRowOf("NA1", map[string]string{
				"actor2": na, "inter2": na, "assoc_actor_1": na + "; " + na, "fatalities": na, "iso": na, "tags": na}))
			if err != nil || len(recs) != 1 {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			if recs[0].err != nil {
				t.Fatalf("rejected: %v", recs[0].err)
			}
			if got := slices.Collect(maps.Keys(recs[0].actors)); !slices.Equal(got, []string{"military-forces-of-iraq-2018"}) {
				t.Errorf("actors %v, want only actor1", got)
			}
			if inc := recs[0].incident; inc.Casualties.Killed != 0 || len(inc.Tags) != 0 || inc.Country != "IQ" {
				t.Errorf("%q read as a value: %+v", na, inc)
			}
		})
	}
}

// TestACLEDHeaderRefused: a file whose header holds a column twice (after
// case folding and the 2015 aliases) is refused, naming it, and nothing of
// it is imported.
func TestACLEDHeaderRefused(t *testing.T) {
	row := acledRowOf("H1", nil)
	tests := []struct{ name, header, row, want string }{
		{"latitude twice", acledHeader + ",latitude", row + ",0", `names latitude twice: "latitude" (column 23) and "latitude" (column 33)`},
		{"event_id_cnty in two cases", acledHeader + ",EVENT_ID_CNTY", row + ",X", `names event_id_cnty twice: "event_id_cnty" (column 1) and "EVENT_ID_CNTY" (column 33)`},
		{"a 2015 alias beside the current name", acledHeader + ",ALLY_ACTOR_1", row + ",Y", `names assoc_actor_1 twice`},
		{"a derived column twice", acledHeader + ",score,Score", row + ",1,2", `names score twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "h.db")
			path := filepath.Join(t.TempDir(), "h.csv")
			if err := os.WriteFile(path, []byte(tc.header+"\n"+tc.row+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			err := importFile(context.Background(), []string{"--db", db, "--format", "acled", path}, &out, &errOut)
			if err == nil || errors.As(err, new(rejectedError)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("import returned %v, want the file refused with %q", err, tc.want)
			}
			if got := storedIncidents(t, db); len(got) != 0 {
				t.Errorf("%d incidents imported", len(got))
			}
		})
	}
}

// TestACLEDFileRefused: a file that cannot be an ACLED export is refused
// with its real cause.
func TestACLEDFileRefused(t *testing.T) {
	utf16Text := func(bigEndian bool) string {
		b := []byte{0xff, 0xfe}
		if bigEndian {
			b = []byte{0xfe, 0xff}
		}
		for _, u := range utf16.Encode([]rune(acledHeader + "\r\n")) {
			if bigEndian {
				b = append(b, byte(u>>8), byte(u))
			} else {
				b = append(b, byte(u), byte(u>>8))
			}
		}
		return string(b)
	}
	tests := []struct{ name, text, want string }{
		{"an empty file", "", "the file is empty"},
		{"a byte order mark alone", "\ufeff", "the file is empty"},
		{"blank lines only", "\r\n\n  \n", "the file is empty"},
		{"a sep= line alone", "sep=,\r\n", "the file is empty"},
		{"UTF-16, little-endian", utf16Text(false), "the file is UTF-16 text"},
		{"UTF-16, big-endian", utf16Text(true), "the file is UTF-16 text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := readACLEDText(t, tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) || len(recs) != 0 {
				t.Errorf("read %d records, %v; want the file refused with %q", len(recs), err, tc.want)
			}
		})
	}
}

// TestACLEDDisagreeingRows: rows of one event must agree on everything but
// their actor columns. A row that differs from the event's earlier rows is
// rejected, naming the line and the first column it differs on, and the
// event keeps the rows that agree, so no row is merged silently into an
// event it contradicts.
func TestACLEDDisagreeingRows(t *testing.T) {
	monadic := func(actor, inter string, set map[string]string) map[string]string {
		m := map[string]string{"actor1": actor, "inter1": inter, "actor2": "", "inter2": "", "interaction": inter + "0"}
		maps.Copy(m, set)
		return m
	}
	tests := []struct {
		name     string
		rows     []map[string]string
		rejected map[string]string // "line N" → a part of the reason
		lines    string            // the event's lines
		killed   int
		actors   []string
	}{
		{
			name:     "an old and a revised row: the second is rejected",
			rows:     []map[string]string{{"fatalities": "0"}, {"fatalities": "3", "timestamp": "1589900000"}},
			rejected: map[string]string{"line 3": `fatalities: "3", but line 2 of event "E1" holds "0": the rows of one event may differ only in their actors`},
			lines:    "line 2", killed: 0,
			actors: []string{"military-forces-of-iraq-2018", "islamic-state-iraq"},
		},
		{
			name:     "the same rows the other way round: the old one is rejected",
			rows:     []map[string]string{{"fatalities": "3", "timestamp": "1589900000"}, {"fatalities": "0"}},
			rejected: map[string]string{"line 3": `fatalities: "0", but line 2 of event "E1" holds "3"`},
			lines:    "line 2", killed: 3,
			actors: []string{"military-forces-of-iraq-2018", "islamic-state-iraq"},
		},
		{
			name:     "the first differing column is named",
			rows:     []map[string]string{{}, {"notes": "Another clash.", "event_date": "2020-05-10", "latitude": "33.4"}},
			rejected: map[string]string{"line 3": `event_date: "2020-05-10", but line 2`},
			lines:    "line 2",
			actors:   []string{"military-forces-of-iraq-2018", "islamic-state-iraq"},
		},
		{
			name: "a monadic event keeps the rows that agree",
			rows: []map[string]string{
				monadic("Rioters (Kenya)", "5", nil),
				monadic("Police Forces of Kenya (2013-)", "1", map[string]string{"location": "Mombasa"}),
				monadic("Civilians (Kenya)", "7", nil),
			},
			rejected: map[string]string{"line 3": `location: "Mombasa", but line 2 of event "E1" holds "Baghdad"`},
			lines:    "lines 2, 4",
			actors:   []string{"rioters-kenya", "civilians-kenya"},
		},
		{
			name: "actor columns may differ, and NA is an empty cell",
			rows: []map[string]string{
				monadic("Rioters (Kenya)", "5", map[string]string{"tags": "", "assoc_actor_1": "Students (Kenya)"}),
				monadic("Civilians (Kenya)", "7", map[string]string{"tags": "NA"}),
			},
			lines:  "lines 2, 3",
			actors: []string{"rioters-kenya", "students-kenya", "civilians-kenya"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := acledHeader + "\n"
			for _, set := range tc.rows {
				text += acledRowOf("E1", set) + "\n"
			}
			recs, err := readACLEDText(t, text)
			if err != nil {
				t.Fatal(err)
			}
			var event *importRecord
			rejected := 0
			for i, rec := range recs {
				if rec.err == nil {
					event = &recs[i]
					continue
				}
				rejected++
				if want, ok := tc.rejected[rec.where]; !ok || !strings.Contains(rec.err.Error(), want) {
					t.Errorf("%s rejected for %q, want a reason with %q", rec.where, rec.err, want)
				}
			}
			if rejected != len(tc.rejected) {
				t.Errorf("%d rows rejected, want %d", rejected, len(tc.rejected))
			}
			if event == nil {
				t.Fatalf("no event: %+v", recs)
			}
			if event.where != tc.lines || event.incident.Casualties.Killed != tc.killed {
				t.Errorf("event of %s with %d killed, want %s with %d", event.where, event.incident.Casualties.Killed, tc.lines, tc.killed)
			}
			var actors []string
			for _, a := range event.incident.Actors {
				actors = append(actors, a.ActorID)
			}
			slices.Sort(actors)
			slices.Sort(tc.actors)
			if !slices.Equal(actors, tc.actors) {
				t.Errorf("actors %v, want %v", actors, tc.actors)
			}
		})
	}
}

// TestACLEDDecimal: the numbers exports write, and nothing else that
// strconv would read.
func TestACLEDDecimal(t *testing.T) {
	for v, want := range map[string]bool{
		"3": true, "-1.68": true, "+33.3": true, "3.0": true, "3.": true, ".5": true, "1e-04": true, "2E+05": true,
		"": false, "-": false, ".": false, "1e": false, "1e+": false, "0x1p-2": false, "0x10": false, "Inf": false, "-inf": false,
		"NaN": false, "1_000": false, "1 000": false, " 3": false, "1.2.3": false, "١": false, "1e4.5": false,
	} {
		if got := acledDecimal(v); got != want {
			t.Errorf("acledDecimal(%q) = %v, want %v", v, got, want)
		}
	}
}
