package main

// Mixed-load test and load benchmarks against the real binary: many
// clients reading (filtered item lists, single items, /collections) while
// others write (POST and PATCH incidents, POST actors) through the API,
// each write with its history and index upkeep. The test holds the
// reliability bar — no 5xx, no locked or busy database, every acknowledged
// write readable and counted — and the benchmarks measure throughput and
// latency under the same mix and on the incident write path alone.
//
// The benchmarks run for a fixed time whatever b.N is, so run them once:
//
//	go test -tags=sqlite_fts5,sqlite_math_functions -run '^$' \
//	    -bench 'MixedLoad|CreateIncidents' -benchtime 1x ./cmd/postwatch/

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postwatch/postwatch/seeds"
)

const (
	mixedClients = 32
	mixedWriters = 10 // of mixedClients: ~30 % write, ~70 % read
	// testSeedN and benchSeedN are how many synthetic incidents the test's
	// and the benchmarks' databases hold besides the seed data set.
	testSeedN  = 1_000
	benchSeedN = 20_000
	// patchTargets is how many incidents the PATCHing writers share, so
	// that concurrent patches of one incident happen.
	patchTargets = 64
)

// TestMixedLoad: 32 clients for 5 s (up to 30 s on a slow machine, until
// there is load enough) on a seeded database, 22 reading with
// every kind of filter and 10 writing, get no 5xx and no locked or busy
// database; every incident and actor created with a 201 is readable
// afterwards, and every incident's version is 1 plus the PATCHes answered
// 200.
func TestMixedLoad(t *testing.T) {
	db := newSeededDB(t, testSeedN)
	srv := startServer(t, db.path)
	srv.wantCleanExit()
	env := newMixedEnv(t, srv.base, db, mixedClients)

	// At least 5 s, and on a slow or busy machine up to 30 s, until there is
	// load enough to prove something.
	quota := map[string]int{"POST incident": 50, "PATCH incident": 20, "POST actor": 10, readOps: 500}
	run := runMixedLoad(env, mixedClients, mixedWriters, 5*time.Second, 30*time.Second, quota)
	t.Log(run.summary())
	if n := run.fails.count(); n > 0 {
		t.Errorf("%d requests failed under load; the first ones:\n%s", n, run.fails.String())
	}
	if lines := srv.troubleLines(); len(lines) > 0 {
		t.Errorf("the server logged %d errors, warnings or lock/busy messages under load; the first ones:\n%s",
			len(lines), strings.Join(lines[:min(len(lines), 20)], "\n"))
	}
	if run.count("POST incident") < quota["POST incident"] || run.count("PATCH incident") < quota["PATCH incident"] ||
		run.count("POST actor") < quota["POST actor"] || len(run.reads) < quota[readOps] {
		t.Fatalf("too little load to prove anything: %d incident POSTs, %d PATCHes, %d actor POSTs, %d reads",
			run.count("POST incident"), run.count("PATCH incident"), run.count("POST actor"), len(run.reads))
	}
	verifyMixedLoad(t, env, run)
}

// BenchmarkMixedLoad is TestMixedLoad's mix for 30 s on a database of
// 20,000 synthetic incidents, reporting throughput, latency and errors
// (which must be 0).
func BenchmarkMixedLoad(b *testing.B) {
	db := newSeededDB(b, benchSeedN)
	srv := startServer(b, db.path)
	srv.wantCleanExit()
	env := newMixedEnv(b, srv.base, db, mixedClients)

	b.ResetTimer()
	run := runMixedLoad(env, mixedClients, mixedWriters, 30*time.Second, 30*time.Second, nil)
	b.StopTimer()
	b.Log(run.summary())
	all := slices.Concat(run.reads, run.writes)
	b.ReportMetric(float64(len(all))/run.elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(len(run.writes))/run.elapsed.Seconds(), "writes/s")
	b.ReportMetric(all.percentile(0.50), "p50_ms")
	b.ReportMetric(all.percentile(0.99), "p99_ms")
	b.ReportMetric(run.reads.percentile(0.99), "read_p99_ms")
	b.ReportMetric(run.writes.percentile(0.99), "write_p99_ms")
	errs := run.fails.count()
	b.ReportMetric(float64(errs), "errors")
	if errs > 0 {
		b.Fatalf("%d requests failed under load; the first ones:\n%s", errs, run.fails.String())
	}
	if lines := srv.troubleLines(); len(lines) > 0 {
		b.Fatalf("the server logged %d errors, warnings or lock/busy messages; the first ones:\n%s",
			len(lines), strings.Join(lines[:min(len(lines), 20)], "\n"))
	}
}

// BenchmarkCreateIncidents is the incident write path alone: 16 clients
// POSTing incidents for 10 s, with each durability setting.
func BenchmarkCreateIncidents(b *testing.B) {
	for _, durability := range []string{"full", "normal"} {
		b.Run("durability="+durability, func(b *testing.B) {
			db := newSeededDB(b, benchSeedN)
			srv := startServer(b, db.path, "--durability", durability)
			srv.wantCleanExit()
			const clients = 16
			hc := loadHTTP(clients)
			var (
				mu    sync.Mutex
				all   latencies
				fails failures
				wg    sync.WaitGroup
			)
			b.ResetTimer()
			start := time.Now()
			deadline := start.Add(10 * time.Second)
			for w := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine latencies
					for i := 0; time.Now().Before(deadline); i++ {
						title := fmt.Sprintf("bench w%d n%d", w, i)
						body := incidentFeature(title, 44+float64(w)/10, 33+float64(i%1000)/10000)
						t0 := time.Now()
						status, resp, err := sendRequest(hc, "POST", srv.base+"/collections/incidents/items", db.officer, "application/geo+json", body)
						mine = append(mine, time.Since(t0))
						if err != nil || status != http.StatusCreated || lockedOrBusy(resp) {
							fails.add("POST %s: status %d, err %v: %.300s", title, status, err, resp)
						}
					}
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "creates/s")
			b.ReportMetric(all.percentile(0.50), "p50_ms")
			b.ReportMetric(all.percentile(0.99), "p99_ms")
			errs := fails.count()
			b.ReportMetric(float64(errs), "errors")
			if errs > 0 {
				b.Fatalf("%d of %d creates failed; the first ones:\n%s", errs, len(all), fails.String())
			}
			if lines := srv.troubleLines(); len(lines) > 0 {
				b.Fatalf("the server logged %d errors, warnings or lock/busy messages; the first ones:\n%s",
					len(lines), strings.Join(lines[:min(len(lines), 20)], "\n"))
			}
		})
	}
}

// mixedEnv is what a mixed load reads and writes: a server with a seeded
// database, and what was in it before the load.
type mixedEnv struct {
	tb      testing.TB
	base    string
	db      seededDB
	hc      *http.Client
	ids     []int64  // incidents that existed before the load
	targets []int64  // incidents the writers PATCH, each at version 1 before
	actors  []string // actor ids the readers filter by
}

func newMixedEnv(tb testing.TB, base string, db seededDB, clients int) *mixedEnv {
	tb.Helper()
	env := &mixedEnv{tb: tb, base: base, db: db, hc: loadHTTP(clients)}
	var fc featureCollection
	env.getJSON("/collections/incidents/items?limit=2000", &fc)
	versions := map[int64]int{}
	for _, f := range fc.Features {
		env.ids = append(env.ids, f.ID)
		versions[f.ID] = f.Properties.Version
	}
	if len(env.ids) < 2*patchTargets {
		tb.Fatalf("the seeded database lists only %d incidents", len(env.ids))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(len(env.ids)) {
		if id := env.ids[i]; versions[id] == 1 && len(env.targets) < patchTargets {
			env.targets = append(env.targets, id)
		}
	}
	if len(env.targets) < patchTargets {
		tb.Fatalf("only %d incidents are at version 1", len(env.targets))
	}
	// Synthetic actors by popularity (actor-001 is named most often) and
	// actors of the seed data set.
	for _, k := range []int{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377} {
		env.actors = append(env.actors, fmt.Sprintf("actor-%03d", k))
	}
	env.actors = append(env.actors, "kataib-hezbollah", "iran", "basra-protesters")
	return env
}

// getJSON GETs path with the analyst token, wants 200 and decodes into v.
func (env *mixedEnv) getJSON(path string, v any) {
	env.tb.Helper()
	status, body, err := sendRequest(env.hc, "GET", env.base+path, env.db.analyst, "", nil)
	if err != nil || status != http.StatusOK {
		env.tb.Fatalf("GET %s: status %d, err %v: %.500s", path, status, err, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		env.tb.Fatalf("GET %s: %v\n%.500s", path, err, body)
	}
}

// mixedRun is what a mixed load did and saw.
type mixedRun struct {
	elapsed       time.Duration
	reads, writes latencies
	byOp          map[string]latencies // durations of each kind of request
	conflicts     int                  // PATCHes answered 409: the incident kept changing
	fails         failures

	mu      sync.Mutex
	created map[int64]string  // incident id → title, of POSTs answered 201
	recent  []int64           // the same ids, for readers to GET
	actors  map[string]string // actor id → name, of POSTs answered 201
	patched map[int64]int     // incident id → PATCHes answered 200
}

func (r *mixedRun) count(op string) int { return len(r.byOp[op]) }

func (r *mixedRun) summary() string {
	ops := make([]string, 0, len(r.byOp))
	for op := range r.byOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var b strings.Builder
	total := len(r.reads) + len(r.writes)
	fmt.Fprintf(&b, "%d requests in %v (%.0f/s): %d reads (p50 %.1f ms, p99 %.1f ms), %d writes (%.0f/s, p50 %.1f ms, p99 %.1f ms); %d PATCH conflicts (409), %d failures",
		total, r.elapsed.Round(time.Millisecond), float64(total)/r.elapsed.Seconds(),
		len(r.reads), r.reads.percentile(0.5), r.reads.percentile(0.99),
		len(r.writes), float64(len(r.writes))/r.elapsed.Seconds(), r.writes.percentile(0.5), r.writes.percentile(0.99),
		r.conflicts, r.fails.count())
	// Three kinds a line: go test keeps only ten lines of a benchmark's log.
	for i, op := range ops {
		sep := "; "
		if i%3 == 0 {
			sep = "\n  "
		}
		l := r.byOp[op]
		fmt.Fprintf(&b, "%s%s: %d, p50 %.1f ms, p99 %.1f ms", sep, op, len(l), l.percentile(0.5), l.percentile(0.99))
	}
	return b.String()
}

// loadOp is one request a client makes.
type loadOp struct {
	name   string
	write  bool
	method string
	path   string
	ctype  string
	body   []byte
	want   int
	// done checks a response with the wanted status and records what it
	// acknowledged; it returns a complaint, or "".
	done func(body []byte) string
}

// runMixedLoad runs clients clients against env for d, the first writers
// of them writing and the others reading, each a closed loop: one request
// at a time, the next as soon as the answer is read.
// readOps is the key of all reads in runMixedLoad's quota.
const readOps = "reads"

// runMixedLoad runs clients (the first writers of them writing) for at
// least least and at most most, stopping between least and most once every
// quota is met: so many requests of each named kind (readOps: reads).
func runMixedLoad(env *mixedEnv, clients, writers int, least, most time.Duration, quota map[string]int) *mixedRun {
	run := &mixedRun{byOp: map[string]latencies{}, created: map[int64]string{}, actors: map[string]string{}, patched: map[int64]int{}}
	var wg sync.WaitGroup
	start := time.Now()
	deadline, minEnd := start.Add(most), start.Add(least)
	sent := map[string]*atomic.Int64{}
	for op := range quota {
		sent[op] = new(atomic.Int64)
	}
	met := func() bool {
		for op, n := range quota {
			if sent[op].Load() < int64(n) {
				return false
			}
		}
		return true
	}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			var mine latencies
			byOp := map[string]latencies{}
			conflicts := 0
			write := c < writers
			for i := 0; ; i++ {
				if now := time.Now(); !now.Before(deadline) || (now.After(minEnd) && met()) {
					break
				}
				var op loadOp
				if write {
					op = env.writeOp(run, rng, c, i)
				} else {
					op = env.readOp(run, rng)
				}
				token := env.db.analyst
				if op.write {
					token = env.db.officer
				}
				t0 := time.Now()
				status, body, err := sendRequest(env.hc, op.method, env.base+op.path, token, op.ctype, op.body)
				took := time.Since(t0)
				key := op.name
				if !op.write {
					key = readOps
				}
				if n := sent[key]; n != nil {
					n.Add(1)
				}
				mine = append(mine, took)
				byOp[op.name] = append(byOp[op.name], took)
				switch {
				case err != nil:
					run.fails.add("%s %s: status %d: %v", op.method, op.path, status, err)
				case status >= 500:
					run.fails.add("%s %s: status %d: %.300s", op.method, op.path, status, body)
				case lockedOrBusy(body):
					run.fails.add("%s %s: status %d, the body speaks of a locked or busy database: %.300s", op.method, op.path, status, body)
				case op.method == "PATCH" && status == http.StatusConflict:
					// Another PATCH of the incident won every one of the
					// server's retries: a correct answer, but counted.
					conflicts++
				case status != op.want:
					run.fails.add("%s %s: status %d, want %d: %.300s", op.method, op.path, status, op.want, body)
				case op.done != nil:
					if msg := op.done(body); msg != "" {
						run.fails.add("%s %s: %s", op.method, op.path, msg)
					}
				}
			}
			run.mu.Lock()
			defer run.mu.Unlock()
			if write {
				run.writes = append(run.writes, mine...)
			} else {
				run.reads = append(run.reads, mine...)
			}
			for k, v := range byOp {
				run.byOp[k] = append(run.byOp[k], v...)
			}
			run.conflicts += conflicts
		}()
	}
	wg.Wait()
	run.elapsed = time.Since(start)
	return run
}

// readOp draws a read: an items query with a bbox, datetime, near, q or
// actor filter, a single incident (one that existed before or one a writer
// created), or /collections.
func (env *mixedEnv) readOp(run *mixedRun, r *rand.Rand) loadOp {
	centres := seeds.SyntheticCentres()
	centre := centres[r.IntN(len(centres))]
	f4 := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	box := func(half float64) string {
		x, y := centre[0]+(2*r.Float64()-1)*0.3, centre[1]+(2*r.Float64()-1)*0.3
		return f4(x-half) + "," + f4(y-half) + "," + f4(x+half) + "," + f4(y+half)
	}
	window := func() string {
		from := seeds.SyntheticFrom.AddDate(0, r.IntN(12*13), 0)
		return from.Format(time.DateOnly) + "/" + from.AddDate(1, 0, 0).Format(time.DateOnly)
	}
	items := func(name string, q url.Values) loadOp {
		return loadOp{name: name, method: "GET", path: "/collections/incidents/items?" + q.Encode(), want: http.StatusOK, done: checkFeatureCollection}
	}
	words := []string{"protest", "drone", "fire", "Baghdad", "Basra", "Damascus", "embassy", "consulate", "rocket", "zar", "kari", "sul"}
	switch p := r.IntN(100); {
	case p < 15:
		return items("GET items bbox", url.Values{"bbox": {box(0.05)}, "limit": {"100"}})
	case p < 22:
		return items("GET items bbox", url.Values{"bbox": {box(0.5)}, "limit": {"100"}})
	case p < 32:
		return items("GET items bbox+datetime", url.Values{"bbox": {box(0.5)}, "datetime": {window()}, "limit": {"100"}})
	case p < 35:
		return items("GET items datetime", url.Values{"datetime": {window()}, "limit": {"50"}})
	case p < 45:
		return items("GET items near", url.Values{"near": {f4(centre[0]) + "," + f4(centre[1])},
			"radius": {strconv.Itoa(5000 + r.IntN(45000))}, "limit": {"50"}})
	case p < 55:
		q := url.Values{"q": {words[r.IntN(len(words))]}, "limit": {"50"}}
		if r.IntN(2) == 0 {
			q.Set("bbox", box(1))
		}
		return items("GET items q", q)
	case p < 65:
		q := url.Values{"actor": {env.actors[r.IntN(len(env.actors))]}, "limit": {"100"}}
		if r.IntN(4) == 0 {
			q.Set("attribution", "chain")
		}
		return items("GET items actor", q)
	case p < 92:
		id := env.ids[r.IntN(len(env.ids))]
		run.mu.Lock()
		if n := len(run.recent); n > 0 && r.IntN(3) == 0 {
			id = run.recent[n-1-r.IntN(min(n, 200))]
		}
		run.mu.Unlock()
		return loadOp{name: "GET item", method: "GET", path: fmt.Sprintf("/collections/incidents/items/%d", id), want: http.StatusOK,
			done: func(body []byte) string {
				var f struct {
					ID int64 `json:"id"`
				}
				if err := json.Unmarshal(body, &f); err != nil || f.ID != id {
					return fmt.Sprintf("not incident %d: %.200s", id, body)
				}
				return ""
			}}
	default:
		return loadOp{name: "GET collections", method: "GET", path: "/collections", want: http.StatusOK, done: func(body []byte) string {
			if !json.Valid(body) {
				return "the body is not JSON"
			}
			return ""
		}}
	}
}

// checkFeatureCollection wants an items page that decodes and is
// consistent.
func checkFeatureCollection(body []byte) string {
	var fc featureCollection
	if err := json.Unmarshal(body, &fc); err != nil {
		return fmt.Sprintf("not a FeatureCollection: %v", err)
	}
	if fc.NumberReturned != len(fc.Features) {
		return fmt.Sprintf("numberReturned %d with %d features", fc.NumberReturned, len(fc.Features))
	}
	return ""
}

// writeOp draws a write of client c's i-th request: POST an incident,
// PATCH one of the shared targets without If-Match, or POST an actor.
func (env *mixedEnv) writeOp(run *mixedRun, r *rand.Rand, c, i int) loadOp {
	switch p := r.IntN(100); {
	case p < 60:
		title := fmt.Sprintf("load w%d n%d", c, i)
		return loadOp{name: "POST incident", write: true, method: "POST", path: "/collections/incidents/items",
			ctype: "application/geo+json", body: incidentFeature(title, 44+r.Float64(), 33+r.Float64()), want: http.StatusCreated,
			done: func(body []byte) string {
				var f incidentReply
				if err := json.Unmarshal(body, &f); err != nil || f.ID <= 0 || f.Properties.Title != title || f.Properties.Version != 1 {
					return fmt.Sprintf("the 201 does not echo %q at version 1: %.300s", title, body)
				}
				run.mu.Lock()
				defer run.mu.Unlock()
				run.created[f.ID] = title
				run.recent = append(run.recent, f.ID)
				return ""
			}}
	case p < 85:
		id := env.targets[r.IntN(len(env.targets))]
		patch, _ := json.Marshal(map[string]any{"properties": map[string]any{
			"severity": 1 + r.IntN(5), "description": fmt.Sprintf("revised by load writer %d, request %d", c, i),
		}})
		return loadOp{name: "PATCH incident", write: true, method: "PATCH", path: fmt.Sprintf("/collections/incidents/items/%d", id),
			ctype: "application/merge-patch+json", body: patch, want: http.StatusOK,
			done: func(body []byte) string {
				var f incidentReply
				if err := json.Unmarshal(body, &f); err != nil || f.ID != id || f.Properties.Version < 2 {
					return fmt.Sprintf("the 200 is not incident %d at a version above 1: %.300s", id, body)
				}
				run.mu.Lock()
				defer run.mu.Unlock()
				run.patched[id]++
				return ""
			}}
	default:
		name := fmt.Sprintf("Load actor w%d n%d", c, i)
		body, _ := json.Marshal(map[string]any{"name": name, "kind": "militia", "aliases": []string{fmt.Sprintf("LA%d-%d", c, i)}})
		return loadOp{name: "POST actor", write: true, method: "POST", path: "/actors", ctype: "application/json", body: body,
			want: http.StatusCreated,
			done: func(body []byte) string {
				var a struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				}
				if err := json.Unmarshal(body, &a); err != nil || a.ID == "" || a.Name != name {
					return fmt.Sprintf("the 201 does not echo actor %q: %.300s", name, body)
				}
				run.mu.Lock()
				defer run.mu.Unlock()
				run.actors[a.ID] = name
				return ""
			}}
	}
}

// verifyMixedLoad reads back what the load's writers were told: every
// incident and actor answered 201 is there as created, and every PATCH
// target is at version 1 + its PATCHes answered 200, with one history
// entry per version.
func verifyMixedLoad(t *testing.T, env *mixedEnv, run *mixedRun) {
	t.Helper()
	var checks []func() string
	for id, title := range run.created {
		checks = append(checks, func() string {
			var f incidentReply
			if msg := env.tryGetJSON(fmt.Sprintf("/collections/incidents/items/%d", id), &f); msg != "" {
				return fmt.Sprintf("incident %d (%q), acknowledged with 201: %s", id, title, msg)
			}
			if f.Properties.Title != title || f.Properties.Version != 1 {
				return fmt.Sprintf("incident %d is %q at version %d, acknowledged as %q at version 1", id, f.Properties.Title, f.Properties.Version, title)
			}
			return ""
		})
	}
	for id, name := range run.actors {
		checks = append(checks, func() string {
			var a struct {
				Name string `json:"name"`
			}
			if msg := env.tryGetJSON("/actors/"+url.PathEscape(id), &a); msg != "" {
				return fmt.Sprintf("actor %s (%q), acknowledged with 201: %s", id, name, msg)
			}
			if a.Name != name {
				return fmt.Sprintf("actor %s is named %q, acknowledged as %q", id, a.Name, name)
			}
			return ""
		})
	}
	patchedTotal := 0
	for _, id := range env.targets {
		want := 1 + run.patched[id]
		patchedTotal += run.patched[id]
		checks = append(checks, func() string {
			var f incidentReply
			path := fmt.Sprintf("/collections/incidents/items/%d", id)
			if msg := env.tryGetJSON(path, &f); msg != "" {
				return fmt.Sprintf("PATCH target %d: %s", id, msg)
			}
			var h struct {
				Versions []struct {
					Version int `json:"version"`
				} `json:"versions"`
			}
			if msg := env.tryGetJSON(path+"/history", &h); msg != "" {
				return fmt.Sprintf("history of PATCH target %d: %s", id, msg)
			}
			if f.Properties.Version != want || len(h.Versions) != want {
				return fmt.Sprintf("incident %d is at version %d with %d history entries; 1 + %d PATCHes answered 200 make %d",
					id, f.Properties.Version, len(h.Versions), want-1, want)
			}
			return ""
		})
	}

	var (
		wg   sync.WaitGroup
		next = make(chan func() string)
		bad  failures
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for check := range next {
				if msg := check(); msg != "" {
					bad.add("%s", msg)
				}
			}
		}()
	}
	for _, check := range checks {
		next <- check
	}
	close(next)
	wg.Wait()
	t.Logf("read back %d created incidents, %d created actors and %d PATCH targets (%d PATCHes answered 200)",
		len(run.created), len(run.actors), len(env.targets), patchedTotal)
	if n := bad.count(); n > 0 {
		t.Fatalf("%d acknowledged writes are not as acknowledged; the first ones:\n%s", n, bad.String())
	}
}

// tryGetJSON GETs path and decodes a 200 into v; it returns a complaint,
// or "".
func (env *mixedEnv) tryGetJSON(path string, v any) string {
	status, body, err := sendRequest(env.hc, "GET", env.base+path, env.db.analyst, "", nil)
	switch {
	case err != nil:
		return err.Error()
	case status != http.StatusOK:
		return fmt.Sprintf("GET %s: status %d: %.300s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Sprintf("GET %s: %v", path, err)
	}
	return ""
}
