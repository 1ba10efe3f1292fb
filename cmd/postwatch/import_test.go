package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

func importFeature(id string, n int) string {
	return fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[44.%04d,33.3]},`+
		`"properties":{"type":"protest","title":"protest %d","occurred_at":"2021-03-01T10:00:00Z","actor_id":"actor-%d"}}`, id, n, n, n%7)
}

// TestImportPipeline: records of a file longer than several chunks are
// reported in file order, rejected ones by line; a feature id seen again
// later in the file updates the incident the first one created.
func TestImportPipeline(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	bad := []int{5, 1500, 2600}
	for n := 1; n <= 2600; n++ {
		line := importFeature("f-"+strconv.Itoa(n), n)
		switch {
		case slices.Contains(bad, n):
			line = strings.Replace(line, `"protest"`, `"meteor"`, 1)
		case n == 2100:
			line = importFeature("f-10", n) // again, in a later chunk
		case n%500 == 0:
			line = "\x1e" + line // RFC 8142 separators are allowed
		}
		lines = append(lines, line)
	}
	file := filepath.Join(dir, "many.geojsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "import.db")
	var stdout, stderr bytes.Buffer
	if err := importFile(context.Background(), []string{"--db", db, "--format", "geojson", file}, &stdout, &stderr); err != (rejectedError{3}) {
		t.Fatalf("import: %v, want 3 records rejected\n%s", err, stderr.String())
	}
	var rejected []int
	for _, m := range regexp.MustCompile(`(?m)^line (\d+): rejected: properties\.type`).FindAllStringSubmatch(stdout.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		rejected = append(rejected, n)
	}
	if !slices.Equal(rejected, bad) {
		t.Errorf("rejected lines %v, want %v in that order:\n%s", rejected, bad, stdout.String())
	}
	if want := "2596 created, 1 updated, 0 unchanged, 3 rejected"; !strings.Contains(stdout.String(), want) {
		t.Errorf("summary: want %q:\n%s", want, stdout.String())
	}

	st, err := sqlite.Open(db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.FindIncidentByID(context.Background(), 2596); err != nil {
		t.Errorf("incident 2596: %v, want the last one created", err)
	}
	if _, err := st.FindIncidentByID(context.Background(), 2597); domain.ErrorCodeOf(err) != domain.ENOTFOUND {
		t.Errorf("incident 2597: %v, want not found: 2596 were created", err)
	}
	versions, err := st.IncidentHistory(context.Background(), 9) // line 5 was rejected
	if err != nil || len(versions) != 2 || versions[1].Record.Title != "protest 2100" {
		t.Errorf("incident f-10 has %d versions (%v), want 2, the second from line 2100", len(versions), err)
	}
}

// TestImportFeatureCollection: a FeatureCollection goes through the same
// pipeline, each bad feature reported by the line it begins on (CONTRACT
// §1), however the file is laid out.
func TestImportFeatureCollection(t *testing.T) {
	good := func(n int) string { return importFeature(fmt.Sprint("fc-", n), n) }
	bad := strings.Replace(importFeature("bad", 9), `"protest"`, `"meteor"`, 1)
	tests := []struct {
		name, file string
		err        error
		want       []string
	}{
		{"on one line", `{"type":"FeatureCollection","features":[` + good(1) + `,` + bad + `,` + good(3) + `]}`,
			rejectedError{1}, []string{"line 1: rejected: properties.type", "2 created, 0 updated, 0 unchanged, 1 rejected"}},
		{"a feature per line", "{\"type\": \"FeatureCollection\",\n\"features\": [\n" + good(1) + ",\n" + bad + ",\n" + good(3) + "\n]}\n",
			rejectedError{1}, []string{"line 4: rejected: properties.type", "2 created, 0 updated, 0 unchanged, 1 rejected"}},
		{"commas first, blank lines", "{\"type\": \"FeatureCollection\", \"features\": [\n" + good(1) + "\n\n\n, " + bad + "\n]}",
			rejectedError{1}, []string{"line 5: rejected: properties.type"}},
		{"a feature over several lines", "{\"type\": \"FeatureCollection\", \"features\": [\n" +
			strings.ReplaceAll(good(1), ",", ",\n") + ",\n" + bad + "]}",
			rejectedError{1}, []string{"line " + fmt.Sprint(2+strings.Count(good(1), ",")+1) + ": rejected: properties.type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "fc.geojson")
			if err := os.WriteFile(file, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if err := importFile(context.Background(), []string{"--db", filepath.Join(dir, "fc.db"), "--format", "geojson", file}, &stdout, &stderr); err != tc.err {
				t.Fatalf("import: %v, want %v\n%s", err, tc.err, stderr.String())
			}
			for _, want := range tc.want {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
	head := "{\"type\": \"FeatureCollection\", \"features\": [\n" + good(1) + ",\n"
	for _, cut := range []struct{ name, body, want string }{
		{"in a feature", head + good(2)[:40], "line 3: unexpected EOF"},
		{"before the array closes", head + good(2) + "\n", "line 3: the FeatureCollection is cut short"},
		{"before the object closes", head + good(2) + "\n]\n", "line 4: the FeatureCollection is cut short"},
		{"after the features' name", "{\"type\": \"FeatureCollection\",\n\"features\":", "line 2: the FeatureCollection is cut short"},
		{"in a member after the features", head + good(2) + "\n],\n\"bbox\": [1, 2", "line 5: the FeatureCollection is cut short"},
		{"with text after it", head + good(2) + "\n]}\nxx", "line 5: text after the FeatureCollection"},
	} {
		t.Run("cut short "+cut.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "fc.geojson")
			if err := os.WriteFile(file, []byte(cut.body), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := importFile(context.Background(), []string{"--db", filepath.Join(dir, "fc.db"), "--format", "geojson", file}, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), cut.want) {
				t.Errorf("import: %v, want %q", err, cut.want)
			}
		})
	}
}

// TestImportCancelled: an import interrupted (SIGINT cancels the context)
// stops and says so, with what it committed and how to finish, instead of
// reporting a summary.
func TestImportCancelled(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for n := 1; n <= 5000; n++ {
		b.WriteString(importFeature("f-"+strconv.Itoa(n), n) + "\n")
	}
	file := filepath.Join(dir, "big.geojsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := importFile(ctx, []string{"--db", filepath.Join(dir, "c.db"), "--format", "geojson", file}, &stdout, &stderr)
	if !errors.Is(err, context.Canceled) || !strings.Contains(fmt.Sprint(err), "records were committed") ||
		!strings.Contains(fmt.Sprint(err), "import the file again") {
		t.Errorf("cancelled import returned %v, want context.Canceled saying what was committed and how to finish", err)
	}
	if strings.Contains(stdout.String(), "imported") {
		t.Errorf("a cancelled import printed a summary:\n%s", stdout.String())
	}
}

// TestImportRejectsPathIsNotAnInput: --rejects naming the input file or a
// file of the SQLite database, by any spelling, is bad usage (exit 2)
// refused before anything is opened for writing: both stay as they were.
func TestImportRejectsPathIsNotAnInput(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	input := filepath.Join(dir, "in.csv")
	text := acledHeader + "\n" + acledRowOf("RJ1", nil) + "\n"
	if _, _, err := acledImport(t, db, text); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(input, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(db, filepath.Join(dir, "link.db")); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, db, rejects string }{
		{"the database", db, db},
		{"the database by another spelling", db, filepath.Join(dir, ".", "sub", "..", "r.db")},
		{"the database through a link", db, filepath.Join(dir, "link.db")},
		{"the database given as a file: URI", "file:" + db + "?_txlock=immediate", db},
		{"the database's WAL", db, db + "-wal"},
		{"the database's shared memory", db, db + "-shm"},
		{"the input file", db, input},
		{"the input file by another spelling", db, filepath.Join(dir, "sub", "..", "in.csv")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dbBefore, _ := os.ReadFile(db)
			var out, errOut bytes.Buffer
			err := importFile(context.Background(), []string{"--db", tc.db, "--format", "acled", "--rejects", tc.rejects, input}, &out, &errOut)
			if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "--rejects") {
				t.Errorf("import returned %v, want a usage error naming --rejects", err)
			}
			if dbAfter, _ := os.ReadFile(db); !bytes.Equal(dbAfter, dbBefore) || len(dbAfter) == 0 {
				t.Errorf("the database changed: %d bytes, was %d", len(dbAfter), len(dbBefore))
			}
			if b, _ := os.ReadFile(input); string(b) != text {
				t.Errorf("the input changed: %q", b)
			}
			for _, suffix := range []string{"-wal", "-shm"} {
				if _, err := os.Stat(db + suffix); err == nil {
					t.Errorf("%s was created", db+suffix)
				}
			}
		})
	}
}

// TestImportProgressTotal: when stderr is not a terminal, an import ends
// with a progress line giving the total, also one shorter than
// progressLogEvery that wrote no periodic line.
func TestImportProgressTotal(t *testing.T) {
	tests := []struct {
		name  string
		every time.Duration
	}{
		{"shorter than the interval", time.Hour},
		{"a line every record", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func(d time.Duration) { progressLogEvery = d }(progressLogEvery)
			progressLogEvery = tc.every
			text := strings.Join([]string{acledHeader, acledRowOf("G1", nil), acledRowOf("G2", nil), acledRowOf("G3", map[string]string{"latitude": "north"})}, "\n") + "\n"
			_, stderr, _ := acledImport(t, filepath.Join(t.TempDir(), "p.db"), text)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if last := lines[len(lines)-1]; !regexp.MustCompile(`^import: 3 records, \d+ records/s$`).MatchString(last) {
				t.Errorf("the last line of stderr is %q, want the total of 3 records:\n%s", last, stderr)
			}
		})
	}
}
