package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/store/storetest"
)

// TestPostGISCommands: token create, import and serve take a postgres://
// URL; serve creates PostGIS and the schema in an empty database; a database that cannot be reached is one line and
// exit 1; the log never shows the database's password. `make test` runs
// it in its PostGIS pass.
func TestPostGISCommands(t *testing.T) {
	admin := os.Getenv(storetest.EnvPG)
	if admin == "" {
		t.Skip("needs " + storetest.EnvPG + "; the PostGIS pass of make test runs it")
	}
	db := storetest.EmptyDatabase(t, admin)
	analyst := newToken(t, db, "analyst")
	officer := newToken(t, db, "officer")

	file := filepath.Join(t.TempDir(), "few.geojsonl")
	lines := []string{importFeature("f-1", 1), importFeature("f-2", 2), strings.Replace(importFeature("f-3", 3), `"protest"`, `"meteor"`, 1)}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "import", "--db", db, "--format", "geojson", file)
	if r.code != 1 || !strings.Contains(r.stdout, "2 created, 0 updated, 0 unchanged, 1 rejected") || !strings.Contains(r.stdout, "line 3: rejected: properties.type") {
		t.Fatalf("import: exit %d, want 1 for the rejected record\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "import", "--db", db, "--format", "geojson", file); !strings.Contains(r.stdout, "0 created, 0 updated, 2 unchanged, 1 rejected") {
		t.Fatalf("import again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The server's log names the database without its password.
	withPassword, _ := url.Parse(db)
	withPassword.User = url.UserPassword(withPassword.User.Username(), "s3cret-pw")
	s := startServer(t, withPassword.String(), "--durability", "normal")
	if strings.Contains(s.log.String(), "s3cret-pw") {
		t.Errorf("the log shows the database password:\n%s", s.log.String())
	}
	c := newClient(t, s.base, analyst)
	if n := c.numberMatched("&bbox=44,33,45,34"); n != 2 {
		t.Fatalf("numberMatched %d after the import, want 2", n)
	}
	status, body, err := newClient(t, s.base, officer).request("POST", "/collections/incidents/items", incidentFeature("served", 44.4, 33.3))
	if err != nil || status != http.StatusCreated {
		t.Fatalf("POST: %d %v %s", status, err, body)
	}
	if n := c.numberMatched("&q=served"); n != 1 {
		t.Fatalf("q=served: numberMatched %d, want 1", n)
	}

	u, _ := url.Parse(db)
	u.Host = "127.0.0.1:1"
	r = runCLI(t, "serve", "--addr", "127.0.0.1:0", "--db", u.String())
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("serve on a server that is down: exit %d, stderr %q; want one line and exit 1", r.code, r.stderr)
	}
}
