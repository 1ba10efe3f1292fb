package main

// Plumbing of the load tests and benchmarks in load_test.go: seeded
// template databases, the load's HTTP client, latency and failure
// tallies. The binary, the server and its log come from the harness in
// e2e_test.go; the templates live in its build directory, which TestMain
// removes.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
	"github.com/postwatch/postwatch/store/sqlite"
)

// seededDB is a seeded database: the seed data set, n synthetic incidents
// (and the actors they name) imported as `postwatch import` does, and an
// officer and an analyst token.
type seededDB struct {
	path             string
	officer, analyst string
}

// seedTemplates holds one template database per size, built on first use
// and copied for every server that needs one.
var seedTemplates sync.Map // int → *seedTemplate

type seedTemplate struct {
	once sync.Once
	db   seededDB
	err  error
}

// newSeededDB returns a fresh copy, in a temporary directory of tb, of the
// template seeded with n synthetic incidents.
func newSeededDB(tb testing.TB, n int) seededDB {
	tb.Helper()
	binary(tb) // builds, and creates buildDir, which holds the templates
	v, _ := seedTemplates.LoadOrStore(n, &seedTemplate{})
	tpl := v.(*seedTemplate)
	tpl.once.Do(func() {
		start := time.Now()
		tpl.db, tpl.err = buildSeedTemplate(n)
		if tpl.err == nil {
			tb.Logf("seeded template: seed data set + %d synthetic incidents in %v", n, time.Since(start).Round(time.Millisecond))
		}
	})
	if tpl.err != nil {
		tb.Fatalf("seeding a database with %d incidents: %v", n, tpl.err)
	}
	dst := filepath.Join(tb.TempDir(), "load.db")
	// Every process that wrote the template closed it, which checkpoints
	// the WAL into the main file; a WAL left anyway is copied along.
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(tpl.db.path+suffix, dst+suffix); err != nil && !(suffix != "" && errors.Is(err, os.ErrNotExist)) {
			tb.Fatalf("copying the seeded template: %v", err)
		}
	}
	out := tpl.db
	out.path = dst
	return out
}

// buildSeedTemplate seeds a database in buildDir with the store itself,
// in this process: what `serve --seed`, `import` of `gen` output and
// `token create` would write, without the start-up of four subprocesses
// (a second each for a binary built with -race).
func buildSeedTemplate(n int) (db seededDB, err error) {
	dir := filepath.Join(buildDir, fmt.Sprintf("seed-%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return db, err
	}
	db.path = filepath.Join(dir, "template.db")
	st, err := sqlite.Open(db.path, sqlite.Options{Durability: sqlite.DurabilityNormal})
	if err != nil {
		return db, err
	}
	defer func() {
		if cerr := st.Close(); err == nil {
			err = cerr
		}
	}()
	ctx := context.Background()
	if _, err := seeds.LoadIfEmpty(ctx, seeds.Services{Incidents: st, Facilities: st, Actors: st}); err != nil {
		return db, fmt.Errorf("seed data set: %w", err)
	}
	var incidents []*domain.Incident
	for _, inc := range seeds.Synthetic(n, 42) {
		incidents = append(incidents, inc)
	}
	for batch := range slices.Chunk(incidents, importChunkRecords) {
		results, err := st.ImportIncidents(ctx, batch, nil)
		if err != nil {
			return db, err
		}
		for i, r := range results {
			if r.Outcome != domain.ImportCreated {
				return db, fmt.Errorf("synthetic incident %s: %s: %v", *batch[i].ExternalID, r.Outcome, r.Err)
			}
		}
	}
	for _, role := range []domain.Role{domain.RoleOfficer, domain.RoleAnalyst} {
		secret, err := st.CreateToken(ctx, &domain.Token{Name: string(role) + "-load", Role: role})
		if err != nil {
			return db, err
		}
		if role == domain.RoleOfficer {
			db.officer = secret
		} else {
			db.analyst = secret
		}
	}
	return db, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// loadHTTP is the HTTP client of a load run: one transport, with an idle
// keep-alive connection for every client.
func loadHTTP(clients int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        2 * clients,
			MaxIdleConnsPerHost: 2 * clients,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// lockedOrBusy reports whether a response body speaks of a locked or busy
// database. Neither word occurs in the seed or synthetic data, nor in
// what the load writes, so any occurrence is the server's.
func lockedOrBusy(body []byte) bool {
	l := bytes.ToLower(body)
	return bytes.Contains(l, []byte("locked")) || bytes.Contains(l, []byte("busy"))
}

// latencies are request durations; percentile sorts them in place.
type latencies []time.Duration

// percentile returns the q-quantile (0 < q ≤ 1) by the nearest-rank
// method, in milliseconds.
func (l latencies) percentile(q float64) float64 {
	if len(l) == 0 {
		return 0
	}
	if !slices.IsSorted(l) {
		slices.Sort(l)
	}
	i := max(0, int(math.Ceil(q*float64(len(l))))-1)
	return float64(l[i]) / float64(time.Millisecond)
}

// failures collects what went wrong in a load run: a count, and the first
// few descriptions.
type failures struct {
	mu     sync.Mutex
	n      int
	sample []string
}

func (f *failures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.sample) < 20 {
		f.sample = append(f.sample, fmt.Sprintf(format, args...))
	}
}

func (f *failures) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *failures) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.sample, "\n")
}
