package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

// TestImportACLEDKeepsCuration: an event confirmed and tagged in postwatch
// after its import keeps that when the same file, or a newer one that does
// not revise it, is imported again (ACLED files are cumulative); an event
// ACLED revised is written from the file.
func TestImportACLEDKeepsCuration(t *testing.T) {
	db := filepath.Join(t.TempDir(), "acled.db")
	if _, _, err := acledImport(t, db, acledHeader+"\n"+acledRowOf("IRQ1", nil)+"\n"+acledRowOf("IRQ2", nil)+"\n"); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"IRQ1", "IRQ2"} {
		inc := storedIncidents(t, db)[ext]
		inc.Status, inc.Tags = "confirmed", []string{"verified-by-post"}
		if err := st.ReplaceIncident(context.Background(), inc.ID, &inc, 0); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	revised := acledHeader + "\n" + acledRowOf("IRQ1", nil) + "\n" + acledRowOf("IRQ2", map[string]string{"fatalities": "4"}) + "\n"
	out, _, err := acledImport(t, db, revised)
	if err != nil || !strings.Contains(out, "0 created, 1 updated, 1 unchanged, 0 rejected") {
		t.Fatalf("re-import: %v\n%s", err, out)
	}
	got := storedIncidents(t, db)
	for _, c := range []struct {
		ext     string
		status  domain.IncidentStatus
		version int
		killed  int
	}{{"IRQ1", "confirmed", 2, 0}, {"IRQ2", "reported", 3, 4}} {
		inc := got[c.ext]
		if inc.Status != c.status || inc.Version != c.version || inc.Casualties.Killed != c.killed {
			t.Errorf("%s: status %s, version %d, killed %d; want %s, %d, %d", c.ext, inc.Status, inc.Version, inc.Casualties.Killed, c.status, c.version, c.killed)
		}
	}
}
