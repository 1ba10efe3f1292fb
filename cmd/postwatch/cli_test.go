package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

// TestTokenCreate: `token create` prints the token alone, the token works
// at once against a running server with its role, and a bad role fails.
func TestTokenCreate(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "tokens.db")
	srv := startServer(t, db)

	r := runCLI(t, "token", "create", "--db", db, "--role", "analyst", "--name", "Ana Lyst")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
	}
	if !regexp.MustCompile(`^\S{20,}\n$`).MatchString(r.stdout) {
		t.Fatalf("stdout is %q; want exactly one line holding the token", r.stdout)
	}
	analyst := strings.TrimSpace(r.stdout)
	officer := newToken(t, db, "officer")
	if analyst == officer {
		t.Fatal("two token create calls printed the same token")
	}

	c := newClient(t, srv.base, analyst)
	var cols struct {
		Collections []struct{ ID string } `json:"collections"`
	}
	c.getJSON("/collections", &cols)
	if len(cols.Collections) < 2 {
		t.Errorf("GET /collections with the new token: %+v", cols)
	}
	body := incidentFeature("token test", 44.4, 33.3)
	if status, resp, err := c.request("POST", "/collections/incidents/items", body); err != nil || status != http.StatusForbidden {
		t.Errorf("POST as analyst: %d %s %v; want 403", status, resp, err)
	}
	co := newClient(t, srv.base, officer)
	if status, resp, err := co.request("POST", "/collections/incidents/items", body); err != nil || status != http.StatusCreated {
		t.Errorf("POST as officer: %d %s %v; want 201", status, resp, err)
	}
	// The token's name is recorded as the author of the change.
	var h struct {
		Versions []struct {
			ChangedBy string `json:"changed_by"`
		} `json:"versions"`
	}
	for id := range c.titles("") {
		c.getJSON(fmt.Sprintf("/collections/incidents/items/%d/history", id), &h)
		if len(h.Versions) != 1 || h.Versions[0].ChangedBy != "officer-e2e" {
			t.Errorf("history of %d: %+v, want changed_by officer-e2e", id, h.Versions)
		}
	}
	bad := newClient(t, srv.base, analyst+"x")
	if status, _, err := bad.request("GET", "/collections", nil); err != nil || status != http.StatusUnauthorized {
		t.Errorf("GET /collections with an unknown token: %d %v; want 401", status, err)
	}

	r = runCLI(t, "token", "create", "--db", db, "--role", "superuser", "--name", "x")
	if r.code == 0 {
		t.Errorf("--role superuser: exit 0, stdout %q; want a failure", r.stdout)
	}
	if r.stdout != "" {
		t.Errorf("--role superuser printed %q on stdout; want nothing", r.stdout)
	}
	if !strings.Contains(r.stderr, "role") {
		t.Errorf("--role superuser: stderr %q does not name the role", r.stderr)
	}
}

// importFileLines is a geojson-seq file of 53 lines: 50 good incidents
// and bad ones on lines 7, 20 and 41.
func importFileLines() (lines []string, bad map[int]string) {
	bad = map[int]string{7: "latitude", 20: "type", 41: "JSON"}
	for n := 1; n <= 53; n++ {
		f := map[string]any{
			"type":     "Feature",
			"id":       fmt.Sprintf("e2e-import-%d", n),
			"geometry": map[string]any{"type": "Point", "coordinates": []float64{44 + float64(n)/100, 33.3}},
			"properties": map[string]any{
				"type": "protest", "title": fmt.Sprintf("imported protest %d", n), "occurred_at": "2021-03-01T10:00:00Z",
			},
		}
		switch n {
		case 7:
			f["geometry"] = map[string]any{"type": "Point", "coordinates": []float64{44, 95}}
		case 20:
			f["properties"].(map[string]any)["type"] = "alien_invasion"
		}
		b, _ := json.Marshal(f)
		line := string(b)
		if n == 41 {
			line = line[:len(line)/2]
		}
		lines = append(lines, line)
	}
	return lines, bad
}

// TestImportWhileServing: import reports bad lines by number, keeps the
// good ones, is visible through a running server at once, and a second
// import of the same file updates instead of duplicating.
func TestImportWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "import.db")
	srv := startServer(t, db)
	c := newClient(t, srv.base, newToken(t, db, "officer"))

	lines, bad := importFileLines()
	file := filepath.Join(dir, "incidents.geojsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The server keeps taking writes while the import runs.
	a, st, stop := newAcked(), &writerStats{}, make(chan struct{})
	wait := runWriters(c, 2, "concurrent write", a, st, stop)
	r := runCLI(t, "import", "--db", db, "--format", "geojson", file)
	close(stop)
	wait()
	if r.code != 1 {
		t.Fatalf("import with 3 bad lines: exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, b := range st.bad {
		t.Errorf("API write during the import: %s", b)
	}
	rejected := regexp.MustCompile(`(?m)^line (\d+): rejected: (.*)$`).FindAllStringSubmatch(r.stdout, -1)
	if len(rejected) != len(bad) {
		t.Errorf("import reported %d rejected lines, want %d (lines 7, 20, 41):\n%s", len(rejected), len(bad), r.stdout)
	}
	for _, m := range rejected {
		var n int
		fmt.Sscan(m[1], &n)
		word, ok := bad[n]
		if !ok {
			t.Errorf("import rejected good line %d: %s", n, m[2])
			continue
		}
		if !strings.Contains(m[2], word) {
			t.Errorf("line %d: rejection %q does not mention %q", n, m[2], word)
		}
	}
	if !regexp.MustCompile(`(?m)^imported .*: 50 created, 0 updated, 0 unchanged, 3 rejected$`).MatchString(r.stdout) {
		t.Errorf("summary: want \"50 created, 0 updated, 0 unchanged, 3 rejected\":\n%s", r.stdout)
	}

	// The running server shows the import at once, by external id.
	checkImported := func() {
		t.Helper()
		var fc featureCollection
		c.getJSON("/collections/incidents/items?limit=1000&q=imported", &fc)
		got := map[string]bool{}
		for _, f := range fc.Features {
			if f.Properties.ExternalID != nil {
				got[*f.Properties.ExternalID] = true
			}
		}
		for n := 1; n <= 53; n++ {
			id := fmt.Sprintf("e2e-import-%d", n)
			if _, isBad := bad[n]; got[id] == isBad {
				t.Errorf("external_id %s: present %v, want %v", id, got[id], !isBad)
			}
		}
		if fc.NumberMatched != 50 {
			t.Errorf("the API shows %d imported incidents, want 50", fc.NumberMatched)
		}
	}
	checkImported()
	total := c.numberMatched("")
	if want := 50 + len(a.snapshot()); total != want {
		t.Errorf("%d incidents in all, want 50 imported + %d posted", total, len(a.snapshot()))
	}

	r = runCLI(t, "import", "--db", db, "--format", "geojson", file)
	if r.code != 1 {
		t.Fatalf("second import: exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^imported .*: 0 created, 0 updated, 50 unchanged, 3 rejected$`).MatchString(r.stdout) {
		t.Errorf("second import summary: want \"0 created, 0 updated, 50 unchanged, 3 rejected\":\n%s", r.stdout)
	}
	checkImported()
	if n := c.numberMatched(""); n != total {
		t.Errorf("after the second import %d incidents, before %d: it duplicated", n, total)
	}
}

// TestBackupWhileWriting: a backup taken under write load is a sound
// database holding everything acknowledged before it started, tokens
// included, and serve opens it.
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "live.db")
	srv := startServer(t, db, "--seed")
	c := newClient(t, srv.base, newToken(t, db, "officer"))
	seeded := c.titles("")

	a, st, stop := newAcked(), &writerStats{}, make(chan struct{})
	wait := runWriters(c, 4, "backup", a, st, stop)
	time.Sleep(700 * time.Millisecond)
	before := a.snapshot()
	out := filepath.Join(dir, "copy.db")
	r := runCLI(t, "backup", "--db", db, out)
	time.Sleep(200 * time.Millisecond) // writes go on after the backup, too
	close(stop)
	wait()
	if r.code != 0 {
		t.Fatalf("backup: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, b := range st.bad {
		t.Errorf("API write during the backup: %s", b)
	}
	if len(before) < 10 {
		t.Fatalf("only %d writes acknowledged before the backup; the test proves little", len(before))
	}
	if r := runCLI(t, "backup", "--db", db, out); r.code == 0 {
		t.Errorf("a second backup over %s succeeded; it must not overwrite", out)
	}

	integrityCheck(t, out)
	// The copy is a database serve opens, with the live tokens.
	cp := startServer(t, out)
	cc := newClient(t, cp.base, c.token)
	for id, title := range seeded {
		before[id] = title
	}
	have := cc.titles("")
	for id, title := range before {
		if have[id] != title {
			t.Errorf("incident %d (%q), stored before the backup began, is %q in the copy", id, title, have[id])
		}
	}
	if all := len(a.snapshot()) + len(seeded); len(have) > all {
		t.Errorf("the copy holds %d incidents, more than the %d ever written", len(have), all)
	}
	t.Logf("%d incidents acknowledged before the backup, %d in the copy, %d in all", len(before), len(have), len(a.snapshot())+len(seeded))
}

// TestDatabaseFilesArePrivate: a database postwatch creates, its WAL and
// shared-memory files and a backup are readable by their owner only:
// they hold webhook secrets as they are and token hashes.
func TestDatabaseFilesArePrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "new.db")
	newToken(t, db, "admin")
	srv := startServer(t, db, "--seed")
	newClient(t, srv.base, newToken(t, db, "officer")).titles("")
	copyPath := filepath.Join(dir, "copy.db")
	if r := runCLI(t, "backup", "--db", db, copyPath); r.code != 0 {
		t.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
	}
	for _, p := range []string{db, db + "-wal", db + "-shm", copyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v; others may read it", filepath.Base(p), mode)
		}
	}
}

// TestSeedOnlyIntoANewDatabase: serve --seed leaves alone a database whose
// records were all deleted; their history stays, and the seed's
// demonstration data must not come back into it.
func TestSeedOnlyIntoANewDatabase(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "emptied.db")
	st, err := sqlite.Open(db, sqlite.Options{NoGrid: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.CreateActor(ctx, &domain.Actor{ID: "local-militia", Name: "Local militia"}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteActor(ctx, "local-militia", 0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	token := newToken(t, db, "analyst")
	srv := startServer(t, db, "--seed")
	if got := newClient(t, srv.base, token).titles(""); len(got) != 0 {
		t.Fatalf("serve --seed loaded %d incidents into a database whose records were deleted", len(got))
	}
	if strings.Contains(srv.log.String(), "seed data set loaded") {
		t.Fatal("serve --seed says it loaded the seed")
	}
}

// TestReadingCommandsRefuseMissingDatabases: backup reads a database, so a
// mistyped --db fails with a message naming it and creates nothing, while
// the commands that create a database (token create) still do.
func TestReadingCommandsRefuseMissingDatabases(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, db, want string
	}{
		{"a path that does not exist", filepath.Join(dir, "typo.db"), "typo.db"},
		{"a directory", dir, "not a database"},
		{"a file that is not a database", notDB, "not a postwatch database"},
		{"no --db at all", "", "--db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.db")
			r := runCLI(t, "backup", "--db", tc.db, out)
			if r.code == 0 {
				t.Fatalf("backup of %q: exit 0, stdout %q", tc.db, r.stdout)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not say %q", r.stderr, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("backup of %q wrote %s", tc.db, out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "typo.db")); err == nil {
		t.Error("backup created the mistyped database")
	}
	fresh := filepath.Join(dir, "fresh.db")
	if r := runCLI(t, "token", "create", "--db", fresh, "--role", "admin", "--name", "first"); r.code != 0 {
		t.Fatalf("token create on a fresh path: exit %d, %s", r.code, r.stderr)
	}
	if r := runCLI(t, "backup", "--db", fresh, filepath.Join(dir, "fresh-copy.db")); r.code != 0 {
		t.Errorf("backup of the database token create made: exit %d, %s", r.code, r.stderr)
	}
}

// TestImportRefusesOtherCRS: a FeatureCollection or a feature whose crs is
// not CRS84 is refused, naming crs and where it stands; CRS84 loads.
func TestImportRefusesOtherCRS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	feature := func(extra string) string {
		return `{"type":"Feature",` + extra + `"geometry":{"type":"Point","coordinates":[33.31,44.36]},"properties":{"type":"protest","title":"Embassy gate","occurred_at":"2018-09-08T05:00:00Z"}}`
	}
	named := func(name string) string { return `"crs":{"type":"name","properties":{"name":"` + name + `"}}` }
	for _, tc := range []struct {
		name, file string
		ok         bool
		want       string // in the output when refused
	}{
		{"collection in EPSG:4326", "{\n\"type\": \"FeatureCollection\",\n" + named("urn:ogc:def:crs:EPSG::4326") + ",\n\"features\": [" + feature("") + "]}", false, "line 3: crs"},
		{"collection in EPSG:3857", `{"type":"FeatureCollection",` + named("EPSG:3857") + `,"features":[` + feature("") + `]}`, false, "line 1: crs"},
		{"collection in CRS84", `{"type":"FeatureCollection",` + named("urn:ogc:def:crs:OGC:1.3:CRS84") + `,"features":[` + feature("") + `]}`, true, ""},
		// Members have no order: a crs after the features holds them back
		// all the same (it reached the reader once they were stored).
		{"collection in EPSG:4326, crs last", "{\"type\": \"FeatureCollection\", \"features\": [\n" + feature("") + "\n],\n" + named("urn:ogc:def:crs:EPSG::4326") + "}", false, "line 4: crs"},
		{"collection in EPSG:3857, crs last and escaped", "{\"type\": \"FeatureCollection\", \"features\": [\n" + feature("") + "\n],\n" +
			strings.Replace(named("EPSG:3857"), `"crs"`, `"cr\u0073"`, 1) + "}", false, "line 4: crs"},
		{"collection in CRS84, crs last, crs-like text inside", "{\"type\": \"FeatureCollection\", \"features\": [" +
			strings.Replace(feature(""), `"Embassy gate"`, `"\\\"crs\\\": {\\\"x\\\"}"`, 1) + "], " + named("urn:ogc:def:crs:OGC:1.3:CRS84") + "}", true, ""},
		{"feature line in EPSG:4326", feature("") + "\n" + feature(named("urn:ogc:def:crs:EPSG::4326")+",") + "\n", false, "line 2: rejected: crs"},
		{"geometry crs in a line", strings.Replace(feature(""), `"type":"Point"`, `"type":"Point",`+named("EPSG:4326"), 1) + "\n", false, "line 1: rejected: geometry.crs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "crs.db")
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".geojson")
			if err := os.WriteFile(file, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, "import", "--db", db, "--format", "geojson", file)
			if tc.ok {
				if r.code != 0 || !strings.Contains(r.stdout, "1 created") {
					t.Errorf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
				}
				return
			}
			if r.code == 0 && !strings.Contains(r.stdout, "rejected: ") {
				t.Errorf("exit 0, nothing refused\nstdout: %s", r.stdout)
			}
			if !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("output does not say %q\nstdout: %s\nstderr: %s", tc.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout, "1 created") && strings.HasPrefix(tc.name, "collection") {
				t.Errorf("a feature of a refused collection was stored: %s", r.stdout)
			}
			if strings.HasPrefix(tc.name, "collection") {
				if n := countIncidents(t, db); n != 0 {
					t.Errorf("%d incidents stored from a refused collection", n)
				}
			}
		})
	}
}

// countIncidents counts the incidents in a SQLite file: 0 when the file
// was never created.
func countIncidents(tb testing.TB, path string) int {
	tb.Helper()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM incidents`).Scan(&n); err != nil {
		tb.Fatalf("count incidents in %s: %v", path, err)
	}
	return n
}
