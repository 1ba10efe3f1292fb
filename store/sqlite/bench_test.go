package sqlite_test

// Benchmarks of the read paths dashboards hit, on a database of a million
// synthetic incidents (POSTWATCH_BENCH_N changes the size). The queries are
// the shared load-test kit's classes q1–q5, asked of the store directly, so
// they measure SQLite and the row mapping without HTTP. The database is
// built once through ImportIncidents, as `postwatch import` would, and kept
// on disk between runs (POSTWATCH_BENCH_DB, default in the temp directory).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
	"github.com/postwatch/postwatch/store/sqlite"
)

const (
	benchSeed     = 42   // the seed of the benchmark data set
	benchBatch    = 2000 // incidents per ImportIncidents call, as `postwatch import` sends them
	benchQueries  = 1000 // distinct queries each benchmark cycles through
	benchQuerySet = 7    // the seed of the query lists; each class draws its own stream
)

// BenchmarkFindIncidentsSmallBBox is q1: a 0.1°×0.1° box near a city
// centre (moved by up to ±0.3°), limit 100.
func BenchmarkFindIncidentsSmallBBox(b *testing.B) {
	benchFind(b, 1, func(r *rand.Rand) domain.IncidentFilter { return itemsFilter(cityBox(r, 0.3, 0.05), 100) })
}

// BenchmarkFindIncidentsLargeBBox is q2: a 1°×1° box near a city centre
// (±0.5°), limit 100.
func BenchmarkFindIncidentsLargeBBox(b *testing.B) {
	benchFind(b, 2, func(r *rand.Rand) domain.IncidentFilter { return itemsFilter(cityBox(r, 0.5, 0.5), 100) })
}

// BenchmarkFindIncidentsRegion is q3: the whole region, edges moved out by
// up to 0.05°, limit 1000.
func BenchmarkFindIncidentsRegion(b *testing.B) {
	benchFind(b, 3, func(r *rand.Rand) domain.IncidentFilter {
		reg := seeds.SyntheticRegion
		j := func() float64 { return round4(r.Float64() * 0.05) }
		return itemsFilter(orb.Bound{Min: orb.Point{reg.Min[0] - j(), reg.Min[1] - j()}, Max: orb.Point{reg.Max[0] + j(), reg.Max[1] + j()}}, 1000)
	})
}

// BenchmarkFindIncidentsBBoxAndTime is q4: q1's box and a 365-day window
// that starts on the hour and ends before seeds.SyntheticTo.
func BenchmarkFindIncidentsBBoxAndTime(b *testing.B) {
	lastStart := seeds.SyntheticTo.AddDate(-1, 0, 0)
	hours := int64(lastStart.Sub(seeds.SyntheticFrom) / time.Hour)
	benchFind(b, 4, func(r *rand.Rand) domain.IncidentFilter {
		f := itemsFilter(cityBox(r, 0.3, 0.05), 100)
		start := seeds.SyntheticFrom.Add(time.Duration(r.Int64N(hours)) * time.Hour)
		end := start.Add(365 * 24 * time.Hour)
		f.Time = &domain.TimeRange{Start: &start, End: &end}
		return f
	})
}

// BenchmarkFindIncidentByID is q5: one incident by an id drawn from 1..n.
func BenchmarkFindIncidentByID(b *testing.B) {
	st, n := benchStore(b)
	r := rand.New(rand.NewPCG(benchQuerySet, 5))
	ids := make([]int64, benchQueries)
	for i := range ids {
		ids[i] = 1 + r.Int64N(int64(n))
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := st.FindIncidentByID(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchFind runs FindIncidents over benchQueries filters that query draws
// from random stream class, and reports the mean page size as features/op.
func benchFind(b *testing.B, class uint64, query func(r *rand.Rand) domain.IncidentFilter) {
	st, _ := benchStore(b)
	r := rand.New(rand.NewPCG(benchQuerySet, class))
	filters := make([]domain.IncidentFilter, benchQueries)
	for i := range filters {
		filters[i] = query(r)
	}
	ctx := context.Background()
	// One pass over a few queries first, so the first timed rounds do not
	// pay for opening connections and the schema parse.
	for _, f := range filters[:10] {
		if _, err := st.FindIncidents(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	features, i := 0, 0
	for b.Loop() {
		page, err := st.FindIncidents(ctx, filters[i%len(filters)])
		if err != nil {
			b.Fatal(err)
		}
		features += len(page.Items)
		i++
	}
	b.ReportMetric(float64(features)/float64(i), "features/op")
}

// itemsFilter is what GET /collections/incidents/items?bbox=…&limit=…
// asks of the store.
func itemsFilter(box orb.Bound, limit int) domain.IncidentFilter {
	return domain.IncidentFilter{BBox: []orb.Bound{box}, SortBy: domain.SortOccurredAtDesc,
		Attribution: domain.AttributionDirect, Page: domain.Page{Limit: limit}}
}

// cityBox is a box of half-size half (degrees) around a city centre moved
// by up to ±jitter, with 4 decimals as a client would send it.
func cityBox(r *rand.Rand, jitter, half float64) orb.Bound {
	centres := seeds.SyntheticCentres()
	c := centres[r.IntN(len(centres))]
	x := c[0] + (2*r.Float64()-1)*jitter
	y := c[1] + (2*r.Float64()-1)*jitter
	return orb.Bound{Min: orb.Point{round4(x - half), round4(y - half)}, Max: orb.Point{round4(x + half), round4(y + half)}}
}

func round4(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 4, 64), 64)
	return f
}

var (
	benchOnce sync.Once
	benchPath string
	benchErr  error
)

// benchStore opens the benchmark database, building it on first use, and
// returns the store and how many incidents it holds (ids 1..n). It skips
// the benchmark under -short.
func benchStore(b *testing.B) (*sqlite.Store, int) {
	b.Helper()
	if testing.Short() {
		b.Skip("needs a database of POSTWATCH_BENCH_N incidents (default 1,000,000): skipped under -short")
	}
	n := 1_000_000
	if v := os.Getenv("POSTWATCH_BENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(strings.ReplaceAll(v, "_", "")); err != nil || n < 1 {
			b.Fatalf("POSTWATCH_BENCH_N=%q is not a positive number", v)
		}
	}
	benchOnce.Do(func() { benchPath, benchErr = ensureBenchDB(b, n) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	st, err := sqlite.Open(benchPath, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	<-st.GridReady()
	return st, n
}

// ensureBenchDB returns the path of a database holding exactly the first n
// synthetic incidents of benchSeed, building it if needed. It replaces only
// a file that is recognisably a benchmark database of another size.
func ensureBenchDB(b *testing.B, n int) (string, error) {
	path := os.Getenv("POSTWATCH_BENCH_DB")
	if path == "" {
		name := "postwatch-bench-" + strconv.Itoa(n) + ".db"
		if n == 1_000_000 {
			name = "postwatch-bench-1m.db"
		}
		path = filepath.Join(os.TempDir(), name)
	}
	switch state, err := benchDBState(path, n); {
	case err != nil:
		return "", err
	case state == "ready":
		b.Logf("using %s: %d synthetic incidents (seed %d)", path, n, benchSeed)
		return path, nil
	case state == "foreign":
		return "", fmt.Errorf("%s holds something other than the benchmark data set; remove it or set POSTWATCH_BENCH_DB to another file", path)
	default:
		b.Logf("building %s (%s): %d synthetic incidents, seed %d", path, state, n, benchSeed)
		// Benchmark logs appear only when the benchmark ends; say now why
		// nothing seems to happen.
		fmt.Fprintf(os.Stderr, "building the benchmark database %s (%d incidents); this takes minutes\n", path, n)
	}
	start := time.Now()
	tmp := fmt.Sprintf("%s.building-%d", path, os.Getpid())
	removeDB(tmp)
	if err := buildBenchDB(b, tmp, n); err != nil {
		removeDB(tmp)
		return "", err
	}
	removeDB(path) // a stale -wal beside a new file would corrupt it
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	b.Logf("built %s in %s", path, time.Since(start).Round(time.Second))
	return path, nil
}

// benchDBState tells whether path is missing, a benchmark database of n
// incidents ("ready"), one of another size or generator ("stale"), or some
// other database ("foreign").
func benchDBState(path string, n int) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "missing", nil
	}
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	defer st.Close()
	ctx := context.Background()
	first, err := st.FindIncidentByID(ctx, 1)
	if domain.ErrorCodeOf(err) == domain.ENOTFOUND {
		return "foreign", nil
	}
	if err != nil {
		return "", err
	}
	if first.ExternalID == nil || *first.ExternalID != "1" || len(first.Actors) != 1 || !strings.HasPrefix(first.Actors[0].ActorID, "actor-") {
		return "foreign", nil
	}
	var want *domain.Incident
	for _, inc := range seeds.Synthetic(1, benchSeed) {
		want = inc
	}
	if first.Title != want.Title || first.Location != want.Location || !first.OccurredAt.Equal(want.OccurredAt) {
		return "stale", nil // another seed or generator
	}
	last, err := st.FindIncidentByID(ctx, int64(n))
	if err != nil || last.ExternalID == nil || *last.ExternalID != strconv.Itoa(n) {
		return "stale", nil
	}
	if _, err := st.FindIncidentByID(ctx, int64(n)+1); domain.ErrorCodeOf(err) != domain.ENOTFOUND {
		return "stale", nil
	}
	return "ready", nil
}

// buildBenchDB imports the synthetic incidents into a new database at path
// in batches, logging progress.
func buildBenchDB(b *testing.B, path string, n int) error {
	st, err := sqlite.Open(path, sqlite.Options{Durability: sqlite.DurabilityNormal})
	if err != nil {
		return err
	}
	return errors.Join(importSynthetic(b, st, n), st.Close())
}

func importSynthetic(b *testing.B, st *sqlite.Store, n int) error {
	ctx := context.Background()
	start, done := time.Now(), 0
	// Progress every 20%, on a batch boundary: go test keeps only the first
	// ten lines a benchmark logs.
	every := max(benchBatch, n/5/benchBatch*benchBatch)
	batch := make([]*domain.Incident, 0, benchBatch)
	flush := func() error {
		results, err := st.ImportIncidents(ctx, batch, nil)
		if err != nil {
			return err
		}
		for i, r := range results {
			if r.Outcome != domain.ImportCreated {
				return fmt.Errorf("synthetic incident %s: %s: %v", *batch[i].ExternalID, r.Outcome, r.Err)
			}
		}
		done += len(batch)
		batch = batch[:0]
		if done%every == 0 || done == n {
			rate := float64(done) / time.Since(start).Seconds()
			eta := time.Duration(float64(n-done) / rate * float64(time.Second)).Round(time.Second)
			b.Logf("%d/%d incidents, %.0f rows/s, ETA %s", done, n, rate, eta)
		}
		return nil
	}
	for _, inc := range seeds.Synthetic(n, benchSeed) {
		if batch = append(batch, inc); len(batch) == benchBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(batch) > 0 {
		return flush()
	}
	return nil
}

func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
}
