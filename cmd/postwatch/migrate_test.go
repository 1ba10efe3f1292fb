package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/store/storetest"
)

// copiedTables are the tables migrate moves, each with its key: every
// one must come back from a round trip row for row.
var copiedTables = []struct{ name, order string }{
	{"facilities", "id"}, {"actors", "id"}, {"incidents", "id"},
	{"incident_actors", "incident_id, actor_id, role"}, {"relations", "id"}, {"postures", "id"},
	{"history", "id"}, {"tokens", "id"}, {"alerts", "seq"}, {"webhooks", "id"},
	{"webhook_outbox", "id"}, {"webhook_deliveries", "id"}, {"meta", "key"},
}

// sqliteRows dumps query's rows from a SQLite file, every value printed.
func sqliteRows(tb testing.TB, path, query string) []string {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		tb.Fatalf("%s on %s: %v", query, path, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, fmt.Sprint(vals...))
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// richDatabase serves a seeded SQLite file and gives it what a seed lacks:
// an alert, a webhook with owed and attempted deliveries, an updated and
// a deleted incident. It returns an admin token once the server has stopped.
func richDatabase(t *testing.T, db string) (token string) {
	t.Helper()
	srv := startServer(t, db, "--seed")
	token = newToken(t, db, "admin")
	c := newClient(t, srv.base, token)
	var facilities struct {
		Features []struct {
			Geometry struct{ Coordinates []float64 } `json:"geometry"`
		} `json:"features"`
	}
	c.getJSON("/collections/facilities/items", &facilities)
	if len(facilities.Features) == 0 {
		t.Fatal("the seed holds no facility")
	}
	// Nothing listens on a port freeAddr has just let go: every delivery
	// fails and stays owed.
	hook, _ := json.Marshal(map[string]any{"url": "http://" + freeAddr(t) + "/hook"})
	if status, body, err := sendRequest(c.http, "POST", srv.base+"/webhooks", token, "application/json", hook); err != nil || status != http.StatusCreated {
		t.Fatalf("POST /webhooks: %d %v %s", status, err, body)
	}
	at := facilities.Features[0].Geometry.Coordinates
	near, _ := json.Marshal(map[string]any{
		"type":     "Feature",
		"geometry": map[string]any{"type": "Point", "coordinates": at},
		"properties": map[string]any{"type": "drone", "title": "drone over the compound in Bagdād", "severity": 4,
			"occurred_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)},
	})
	status, body, err := c.request("POST", "/collections/incidents/items", near)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("POST near a facility: %d %v %s", status, err, body)
	}
	ids := make([]int64, 0, 2)
	for _, title := range []string{"to be changed", "to be deleted"} {
		status, body, err := c.request("POST", "/collections/incidents/items", incidentFeature(title, 44.1, 33.1))
		var f incidentReply
		if err != nil || status != http.StatusCreated || json.Unmarshal(body, &f) != nil {
			t.Fatalf("POST %s: %d %v %s", title, status, err, body)
		}
		ids = append(ids, f.ID)
	}
	patch := []byte(`{"properties": {"title": "changed once"}}`)
	if status, body, _ := sendRequest(c.http, "PATCH", fmt.Sprintf("%s/collections/incidents/items/%d", srv.base, ids[0]), token, "application/merge-patch+json", patch); status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", status, body)
	}
	if status, body, _ := c.request("DELETE", fmt.Sprintf("/collections/incidents/items/%d", ids[1]), nil); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	// The dispatcher makes its first attempt at once.
	deadline := time.Now().Add(10 * time.Second)
	for len(sqliteRows(t, db, `SELECT id FROM webhook_deliveries`)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no delivery was attempted within 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if state := srv.stop(10 * time.Second); !state.Success() {
		t.Fatalf("serve exited with %v", state)
	}
	return token
}

// stixID is the STIX id an incident has when served from base.
func stixID(t *testing.T, base, token string, id int64) string {
	t.Helper()
	var bundle struct {
		Objects []struct{ Type, ID string } `json:"objects"`
	}
	newClient(t, base, token).getJSON(fmt.Sprintf("/collections/incidents/items/%d?f=stix", id), &bundle)
	for _, o := range bundle.Objects {
		if o.Type == "incident" {
			return o.ID
		}
	}
	t.Fatalf("no incident in the STIX bundle of %d from %s", id, base)
	return ""
}

// TestPostGISMigrateRoundTrip: SQLite → PostGIS → SQLite gives back every
// table row for row (ids, history, token hashes, alerts, webhooks with
// their secrets and owed deliveries, the database identity); the indexes
// of each engine answer for the copied rows; a token made before the move
// works after it, STIX ids stay the same, and PostGIS numbers the next
// record past the copied ids. A destination holding anything, even a
// token, is refused and left as it was.
func TestPostGISMigrateRoundTrip(t *testing.T) {
	admin := os.Getenv(storetest.EnvPG)
	if admin == "" {
		t.Skip("needs " + storetest.EnvPG + "; the PostGIS pass of make test runs it")
	}
	dir := t.TempDir()
	src, back := filepath.Join(dir, "source.db"), filepath.Join(dir, "back.db")
	token := richDatabase(t, src)
	pg := storetest.EmptyDatabase(t, admin)

	r := runCLI(t, "migrate", "--from", src, "--to", pg)
	if r.code != 0 || !strings.Contains(r.stdout, "incidents") || !strings.Contains(r.stdout, "webhook_outbox") {
		t.Fatalf("migrate to PostGIS: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "migrate", "--from", pg, "--to", back); r.code != 0 {
		t.Fatalf("migrate back to SQLite: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, tb := range copiedTables {
		q := `SELECT * FROM ` + tb.name + ` ORDER BY ` + tb.order
		want, got := sqliteRows(t, src, q), sqliteRows(t, back, q)
		if len(want) == 0 && tb.name != "webhook_outbox" {
			t.Errorf("the source's %s is empty; the round trip proves nothing there", tb.name)
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s after the round trip:\n got %q\nwant %q", tb.name, got, want)
		}
	}
	// SQLite's derived indexes hold the copied rows.
	for _, q := range []string{
		`SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH 'compound' ORDER BY rowid`,
		`SELECT id FROM incidents_rtree ORDER BY id`,
		`SELECT n FROM live_counts`,
	} {
		if want, got := sqliteRows(t, src, q), sqliteRows(t, back, q); !reflect.DeepEqual(want, got) || len(want) == 0 {
			t.Errorf("%s: %q after the round trip, %q before", q, got, want)
		}
	}

	onPG := startServer(t, pg)
	onBack := startServer(t, back)
	onSrc := startServer(t, src)
	last := sqliteRows(t, src, `SELECT max(id) FROM incidents WHERE deleted_at IS NULL`)[0]
	var lastID int64
	fmt.Sscan(last, &lastID)
	for _, s := range []*server{onPG, onBack} {
		c := newClient(t, s.base, token)
		for _, q := range []string{"compound", "bagdad", "BAGDĀD"} {
			if n := c.numberMatched("&q=" + url.QueryEscape(q)); n != 1 {
				t.Errorf("%s: q=%s matches %d, want 1", s.db, q, n)
			}
		}
		if n, want := c.numberMatched("&bbox=-180,-90,180,90"), len(sqliteRows(t, src, `SELECT id FROM incidents WHERE deleted_at IS NULL`)); n != want {
			t.Errorf("%s: %d incidents in the world's bbox, want %d", s.db, n, want)
		}
		if got, want := stixID(t, s.base, token, lastID), stixID(t, onSrc.base, token, lastID); got != want {
			t.Errorf("%s: STIX id %s, want %s as on the source", s.db, got, want)
		}
	}
	status, body, err := newClient(t, onPG.base, token).request("POST", "/collections/incidents/items", incidentFeature("after the move", 44.2, 33.2))
	var f incidentReply
	if err != nil || status != http.StatusCreated || json.Unmarshal(body, &f) != nil {
		t.Fatalf("POST on PostGIS after migrate: %d %v %s", status, err, body)
	}
	var maxID int64
	fmt.Sscan(sqliteRows(t, src, `SELECT max(id) FROM incidents`)[0], &maxID)
	if f.ID <= maxID {
		t.Errorf("the first incident made after migrate has id %d, not past the copied %d", f.ID, maxID)
	}

	// Refusals: a destination with records, and one with only a token.
	before := sqliteRows(t, back, `SELECT count(*), max(id) FROM history`)
	if r := runCLI(t, "migrate", "--from", pg, "--to", back); r.code != 1 || !strings.Contains(r.stderr, "already holds records") {
		t.Errorf("migrate into a database with records: exit %d, %q", r.code, r.stderr)
	}
	if after := sqliteRows(t, back, `SELECT count(*), max(id) FROM history`); !reflect.DeepEqual(before, after) {
		t.Errorf("the refused destination changed: history %q, was %q", after, before)
	}
	tokenOnly := storetest.EmptyDatabase(t, admin)
	newToken(t, tokenOnly, "analyst")
	if r := runCLI(t, "migrate", "--from", src, "--to", tokenOnly); r.code != 1 || !strings.Contains(r.stderr, "already holds records") {
		t.Errorf("migrate into a database with a token: exit %d, %q", r.code, r.stderr)
	}
	only := startServer(t, tokenOnly)
	if status, _, _ := newClient(t, only.base, token).request("GET", "/collections/incidents/items", nil); status != http.StatusUnauthorized {
		t.Errorf("the refused destination answers the source's token with %d, want 401: nothing may have arrived", status)
	}
}

// TestPostGISMigrateAndBackupWhileWriting: migrate reads a SQLite source
// that serve is writing to, and backup reads a PostGIS database that serve
// is writing to, each from one snapshot: every incident acknowledged
// before the command began is in its copy, none is there twice, and the
// copy serves with the source's tokens.
func TestPostGISMigrateAndBackupWhileWriting(t *testing.T) {
	admin := os.Getenv(storetest.EnvPG)
	if admin == "" {
		t.Skip("needs " + storetest.EnvPG + "; the PostGIS pass of make test runs it")
	}
	dir := t.TempDir()
	pg := storetest.EmptyDatabase(t, admin)
	file := filepath.Join(dir, "live.db")
	for _, step := range []struct {
		name, source string
		copy         func() (cliResult, string)
	}{
		{"migrate from SQLite", file, func() (cliResult, string) {
			return runCLI(t, "migrate", "--from", file, "--to", pg), pg
		}},
		{"backup of PostGIS", pg, func() (cliResult, string) {
			out := filepath.Join(dir, "backup.db")
			return runCLI(t, "backup", "--db", pg, out), out
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			srv := startServer(t, step.source, "--seed")
			c := newClient(t, srv.base, newToken(t, step.source, "officer"))
			seeded := c.titles("")
			a, st, stop := newAcked(), &writerStats{}, make(chan struct{})
			wait := runWriters(c, 4, step.name, a, st, stop)
			time.Sleep(700 * time.Millisecond)
			before := a.snapshot()
			r, copied := step.copy()
			time.Sleep(200 * time.Millisecond) // writes go on after the copy, too
			close(stop)
			wait()
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			for _, b := range st.bad {
				t.Errorf("API write during the copy: %s", b)
			}
			if len(before) < 10 {
				t.Fatalf("only %d writes acknowledged before the copy; the test proves little", len(before))
			}
			srv.stop(10 * time.Second)
			cp := startServer(t, copied)
			have := newClient(t, cp.base, c.token).titles("")
			for id, title := range seeded {
				before[id] = title
			}
			for id, title := range before {
				if have[id] != title {
					t.Errorf("incident %d (%q), stored before the copy began, is %q in the copy", id, title, have[id])
				}
			}
			if all := len(a.snapshot()) + len(seeded); len(have) > all {
				t.Errorf("the copy holds %d incidents, more than the %d ever written", len(have), all)
			}
			t.Logf("%d incidents acknowledged before the copy, %d in the copy, %d in all", len(before), len(have), len(a.snapshot())+len(seeded))
		})
	}
	if r := runCLI(t, "backup", "--db", pg, filepath.Join(dir, "backup.db")); r.code != 1 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("a second backup over the first: exit %d, %q; it must not overwrite", r.code, r.stderr)
	}
}

// TestMigrateSQLiteToSQLite: migrate within one engine copies every table
// row for row and the full-text index with them; the copy serves the
// source's token; a same-name destination is a usage error.
func TestMigrateSQLiteToSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "source.db"), filepath.Join(dir, "copy.db")
	token := richDatabase(t, src)
	r := runCLI(t, "migrate", "--from", src, "--to", dst)
	if r.code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The summary names every table of the schema but the engine's own
	// and derived ones: a table a migration adds must be added to the copy.
	var summary []string
	for _, line := range strings.Split(r.stdout, "\n")[1:] {
		if f := strings.Fields(line); len(f) == 2 {
			summary = append(summary, f[0])
		}
	}
	schema := sqliteRows(t, src, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
		AND name NOT LIKE 'incidents_fts%' AND name NOT LIKE '%_rtree%' AND name NOT IN ('schema_migrations', 'live_counts') ORDER BY name`)
	sort.Strings(summary)
	if !reflect.DeepEqual(summary, schema) {
		t.Errorf("migrate copied the tables %q; the schema has %q", summary, schema)
	}
	for _, tb := range copiedTables {
		q := `SELECT * FROM ` + tb.name + ` ORDER BY ` + tb.order
		if want, got := sqliteRows(t, src, q), sqliteRows(t, dst, q); !reflect.DeepEqual(want, got) {
			t.Errorf("%s in the copy:\n got %q\nwant %q", tb.name, got, want)
		}
	}
	integrityCheck(t, dst)
	s := startServer(t, dst)
	if n := newClient(t, s.base, token).numberMatched("&q=compound"); n != 1 {
		t.Errorf("q=compound on the copy matches %d, want 1", n)
	}
	if r := runCLI(t, "migrate", "--from", src, "--to", src); r.code != 2 {
		t.Errorf("migrate onto itself: exit %d, want 2 (usage)\n%s", r.code, r.stderr)
	}
	typo, other := filepath.Join(dir, "sourse.db"), filepath.Join(dir, "other.db")
	if r := runCLI(t, "migrate", "--from", typo, "--to", other); r.code != 1 || !strings.Contains(r.stderr, "no database at") {
		t.Errorf("migrate from a missing file: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(typo); err == nil {
		t.Errorf("migrate from a missing file created it")
	}
}
