package delivery_test

// The alert delivery benchmarks of issue #11, against the figures
// published for Tile38's hooks (docs/performance.md, "Alert delivery"):
//
//	(a) BenchmarkAlertDelivery  100 incidents/s inside a radius: SSE and webhook latency
//	(b) BenchmarkAlertBurst     a burst of writes, each delivered: latency and drain time
//	(c) BenchmarkAlertOutage    an endpoint down for a while: alerts lost and duplicated
//	(d) BenchmarkAlertHang      write latency while an endpoint hangs, against a healthy one
//
// Each runs the API through its real router on a loopback HTTP server,
// the real dispatcher, and real HTTP receivers on loopback, on a fresh
// SQLite file, or on a fresh PostGIS database when POSTWATCH_TEST_PG is
// set (storetest.Open). Each is meant to run once (-benchtime 1x, except
// (a), whose b.N is its number of writes); their sizes come from the
// POSTWATCH_BENCH_* variables below, so a short smoke run and the run for
// the record are the same code.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/delivery"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// benchServer is the API on a fresh database, served on loopback, with
// one facility, a dispatcher and an officer's and an analyst's token.
type benchServer struct {
	b       *testing.B
	db      *storetest.DB
	url     string
	fac     int64
	officer string
	analyst string
	client  *http.Client
	// starts[i] is when write i began (Unix ns): latencies are measured
	// from there, so each includes its write's own commit.
	starts []atomic.Int64
}

// newBenchServer starts everything for writes 0..n-1; the dispatcher
// runs with opts (Encode and Signal filled in) until the benchmark ends.
func newBenchServer(b *testing.B, n int, opts delivery.Options) *benchServer {
	b.Helper()
	db := storetest.Open(b)
	ctx := context.Background()
	srv, err := api.NewWithOptions(api.Services{Incidents: db, Facilities: db, Actors: db, Tokens: db,
		Alerts: db, Webhooks: db, DB: db}, slog.New(slog.NewTextHandler(io.Discard, nil)), api.Options{AlertSignal: db.Signal})
	if err != nil {
		b.Fatal(err)
	}
	httpSrv := httptest.NewServer(srv)
	f := &domain.Facility{Location: [2]float64{47.6625, 30.5489}, Name: "Consulate General Basrah"}
	if err := db.CreateFacility(ctx, f); err != nil {
		b.Fatal(err)
	}
	s := &benchServer{b: b, db: db, url: httpSrv.URL, fac: f.ID, starts: make([]atomic.Int64, n),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	for role, into := range map[domain.Role]*string{domain.RoleOfficer: &s.officer, domain.RoleAnalyst: &s.analyst} {
		if *into, err = db.CreateToken(ctx, &domain.Token{Name: "bench " + string(role), Role: role}); err != nil {
			b.Fatal(err)
		}
	}
	opts.Encode, opts.Signal = api.EncodeAlert, db.Signal
	dctx, cancel := context.WithCancel(ctx)
	d := delivery.New(db, opts)
	done := make(chan struct{})
	go func() { d.Run(dctx); close(done) }()
	// Cleanups run last-in first-out: the dispatcher stops before the
	// server and the receivers close.
	b.Cleanup(func() { httpSrv.Close(); srv.Close() })
	b.Cleanup(func() { cancel(); <-done })
	return s
}

// subscribe adds a webhook for every alert and returns its secret.
func (s *benchServer) subscribe(url string) string {
	s.b.Helper()
	secret, err := s.db.CreateWebhook(context.Background(), &domain.Webhook{URL: url})
	if err != nil {
		s.b.Fatal(err)
	}
	return secret
}

// post writes incident i inside the facility's radius through the API, as
// an officer would, and returns how long the write took.
func (s *benchServer) post(i int) (time.Duration, error) {
	w := benchIncident(i)
	body := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[%g,%g]},`+
		`"properties":{"type":%q,"title":%q,"severity":3,"occurred_at":%q}}`,
		w.Location[0], w.Location[1], w.Type, w.Title, w.OccurredAt.UTC().Format(time.RFC3339))
	req, err := http.NewRequest("POST", s.url+"/collections/incidents/items", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.officer)
	start := time.Now()
	s.starts[i].Store(start.UnixNano())
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusCreated {
		return took, fmt.Errorf("write %d: HTTP %d", i, resp.StatusCode)
	}
	return took, nil
}

// benchTypes are the incident types the writes take in turn.
var benchTypes = []domain.IncidentType{"indirect_fire", "direct_fire", "ied", "drone", "protest"}

// benchIncident is write i: inside the facility's 5 km radius (up to
// 3 km east or west and 2.8 km north or south of it), of one of five
// types, having occurred up to 70 hours ago (within the alert window).
// The writes are spread so that each has few possible duplicates (same
// type, 500 m, 2 h), as real ones do: 20,000 incidents at one point and
// minute would make every write check all the earlier ones.
func benchIncident(i int) *domain.Incident {
	h := uint64(i)*0x9E3779B97F4A7C15 + 1
	frac := func() float64 { h ^= h >> 29; h *= 0xBF58476D1CE4E5B9; h ^= h >> 32; return float64(h%1_000_000) / 1e6 }
	return &domain.Incident{Location: [2]float64{47.6625 + 0.06*(frac()-0.5), 30.5489 + 0.05*(frac()-0.5)},
		Type: benchTypes[i%len(benchTypes)], Title: "bench " + strconv.Itoa(i), Severity: 3,
		OccurredAt: time.Now().Add(-time.Minute - time.Duration(frac()*70*float64(time.Hour)))}
}

// create writes incident i through the store, as (a) always has.
func (s *benchServer) create(i int) (time.Duration, error) {
	inc := benchIncident(i)
	start := time.Now()
	s.starts[i].Store(start.UnixNano())
	err := s.db.CreateIncident(context.Background(), inc)
	return time.Since(start), err
}

var benchTitle = []byte(`"title":"bench `)

// writeOf is the write an alert's JSON stems from, by its incident title;
// -1 if none of this benchmark's.
func (s *benchServer) writeOf(alert []byte) int {
	_, rest, ok := bytes.Cut(alert, benchTitle)
	if !ok {
		return -1
	}
	end := bytes.IndexByte(rest, '"')
	i, err := strconv.Atoi(string(rest[:max(end, 0)]))
	if err != nil || i < 0 || i >= len(s.starts) {
		return -1
	}
	return i
}

// latencies collects, per write, the time from its start to the arrival
// of its alert at one consumer; the first arrival counts.
type latencies struct {
	mu   sync.Mutex
	got  map[int]time.Duration
	more chan struct{}
	last time.Time
}

func newLatencies() *latencies {
	return &latencies{got: map[int]time.Duration{}, more: make(chan struct{}, 1)}
}

func (l *latencies) add(s *benchServer, alert []byte) {
	at := time.Now()
	i := s.writeOf(alert)
	if i < 0 {
		return
	}
	start := s.starts[i].Load()
	l.mu.Lock()
	if _, dup := l.got[i]; !dup && start != 0 {
		l.got[i] = at.Sub(time.Unix(0, start))
		l.last = at
	}
	l.mu.Unlock()
	select {
	case l.more <- struct{}{}:
	default:
	}
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

// lastAt is when the last first arrival came.
func (l *latencies) lastAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// wait blocks until n writes have arrived or the deadline passes.
func (l *latencies) wait(n int, deadline time.Time) bool {
	for l.count() < n {
		select {
		case <-l.more:
		case <-time.After(time.Until(deadline)):
			return l.count() >= n
		}
	}
	return true
}

// sorted returns the latencies in increasing order.
func (l *latencies) sorted() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]time.Duration, 0, len(l.got))
	for _, d := range l.got {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// hookReceiver is a webhook endpoint on loopback that records latencies.
func (s *benchServer) hookReceiver(into *latencies) *httptest.Server {
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		into.add(s, body)
		w.WriteHeader(http.StatusNoContent)
	}))
	s.b.Cleanup(rc.Close)
	return rc
}

// stream opens /alerts/stream as an analyst and records its alerts'
// latencies until the benchmark ends.
func (s *benchServer) stream(into *latencies) {
	s.b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+s.analyst)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		s.b.Fatalf("/alerts/stream: HTTP %d", resp.StatusCode)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: ")); ok {
				into.add(s, data)
			}
		}
	}()
	s.b.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
}

// report adds the p50 and p99 of ds, in milliseconds, as name-p50-ms and
// name-p99-ms.
func report(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(ms(ds[len(ds)/2]), name+"-p50-ms")
	b.ReportMetric(ms(ds[len(ds)*99/100]), name+"-p99-ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cpuTime is the CPU time this process has used, user and system: all of
// the benchmark's work (the API, the database engine's, the dispatcher,
// the receivers) runs in it, so the difference over a run divided by its
// writes is what one alert costs end to end, a figure that stays
// comparable when other processes share the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// envInt and envDuration read a POSTWATCH_BENCH_* size, or def.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q is not a positive integer", name, v)
	}
	return n
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q is not a positive duration such as 20s or 10m", name, v)
	}
	return d
}

// BenchmarkAlertDelivery (a) writes b.N incidents inside a facility's
// radius at 100 a second through the store (SQLite at DurabilityNormal,
// as the tests run) and measures, from the moment each write starts (its
// commit included), how long its alert takes to reach an open
// /alerts/stream and a webhook receiver. It reports the p50 and p99 of
// each, and of the writes, in milliseconds. Run it alone, e.g.
// go test -tags=… -run '^$' -bench 'AlertDelivery$' -benchtime 1000x ./delivery/
func BenchmarkAlertDelivery(b *testing.B) {
	s := newBenchServer(b, b.N, delivery.Options{})
	sse, hook := newLatencies(), newLatencies()
	s.subscribe(s.hookReceiver(hook).URL)
	s.stream(sse)
	var writes []time.Duration
	tick := time.NewTicker(10 * time.Millisecond) // 100 writes a second
	defer tick.Stop()
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		<-tick.C
		took, err := s.create(i)
		if err != nil {
			b.Fatal(err)
		}
		writes = append(writes, took)
	}
	deadline := time.Now().Add(30 * time.Second)
	if !sse.wait(b.N, deadline) || !hook.wait(b.N, deadline) {
		b.Fatalf("%d stream and %d webhook deliveries of %d alerts", sse.count(), hook.count(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-us/write")
	report(b, "sse", sse.sorted())
	report(b, "webhook", hook.sorted())
	report(b, "write", writes)
}

// BenchmarkAlertBurst (b) writes POSTWATCH_BENCH_BURST incidents (default
// 20,000) inside the radius as fast as 8 concurrent clients of the API
// can, with an open /alerts/stream and one webhook subscription, and
// waits for every alert at both. It reports the burst's length and rate,
// the p50/p99 from each write's start to its alert's arrival, and
// drain-s: from the first write to the last alert's arrival. Run once:
// go test -tags=… -run '^$' -bench 'AlertBurst$' -benchtime 1x ./delivery/
func BenchmarkAlertBurst(b *testing.B) {
	n := envInt(b, "POSTWATCH_BENCH_BURST", 20000)
	const clients = 8
	for range b.N {
		s := newBenchServer(b, n, delivery.Options{})
		sse, hook := newLatencies(), newLatencies()
		s.subscribe(s.hookReceiver(hook).URL)
		s.stream(sse)
		var next atomic.Int64
		writes := make([]time.Duration, n)
		errs := make(chan error, clients)
		cpu := cpuTime()
		start := time.Now()
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
					took, err := s.post(i)
					if err != nil {
						errs <- err
						return
					}
					writes[i] = took
				}
			}()
		}
		wg.Wait()
		burst := time.Since(start)
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(5*time.Minute + 10*burst)
		if !hook.wait(n, deadline) || !sse.wait(n, deadline) {
			b.Fatalf("%d stream and %d webhook deliveries of %d alerts", sse.count(), hook.count(), n)
		}
		b.ReportMetric(burst.Seconds(), "burst-s")
		b.ReportMetric(float64(n)/burst.Seconds(), "writes/s")
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(n), "cpu-us/write")
		last := hook.lastAt()
		if t := sse.lastAt(); t.After(last) {
			last = t
		}
		b.ReportMetric(last.Sub(start).Seconds(), "drain-s")
		report(b, "write", writes)
		report(b, "sse", sse.sorted())
		report(b, "webhook", hook.sorted())
	}
}

// BenchmarkAlertOutage (c) takes a webhook endpoint down for
// POSTWATCH_BENCH_OUTAGE (default 10m) while incidents are written inside
// the radius at POSTWATCH_BENCH_OUTAGE_RATE a second (default 5), from 5 s
// before the outage to 5 s after it, and then waits until every alert has
// arrived or the retries could no longer bring one. The endpoint is a
// real listener that is closed (connections refused) and opened again on
// the same port. The retry schedule is the contract's
// (domain.WebhookRetryDelay), scaled by outage/10 min, so the run for the
// record (10 min) uses it exactly and a short smoke run keeps its shape.
// Expected are the alerts the store lists after the writes, one per
// acknowledged write; lost counts those whose webhook-id never arrived with
// a valid signature; dup the arrivals beyond the first of a webhook-id;
// recovered-s is how long after the endpoint came back the last one
// arrived (the backlog waits for its next scheduled retry: up to 30 min
// after a 10 min outage). It prints its figures on one line and fails if
// an alert is lost. The 10 min run takes about 40 min, nearly all of it
// waiting; 10s takes under a minute:
// go test -tags=… -run '^$' -bench 'AlertOutage$' -benchtime 1x -timeout 60m ./delivery/
func BenchmarkAlertOutage(b *testing.B) {
	outage := envDuration(b, "POSTWATCH_BENCH_OUTAGE", 10*time.Minute)
	rate := envInt(b, "POSTWATCH_BENCH_OUTAGE_RATE", 5)
	const margin = 5 * time.Second
	n := int((2*margin+outage).Seconds()*float64(rate)) + 1
	scale := float64(outage) / float64(10*time.Minute)
	retry := func(attempt int) (time.Duration, bool) {
		d, ok := domain.WebhookRetryDelay(attempt)
		return time.Duration(float64(d) * scale), ok
	}
	for range b.N {
		s := newBenchServer(b, n, delivery.Options{Retry: retry})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := ln.Addr().String()
		var mu sync.Mutex
		arrivals := map[string]int{} // webhook-id → valid arrivals
		var lastArrival time.Time
		var secret string
		handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			got := received{req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature"), body}
			mu.Lock()
			if signatureMatches(secret, got) {
				arrivals[got.id]++
				lastArrival = time.Now()
			}
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		})
		endpoint := &http.Server{Handler: handler}
		go endpoint.Serve(ln)
		mu.Lock()
		secret = s.subscribe("http://" + addr + "/hook")
		mu.Unlock()

		// The writes run on their own; the endpoint goes down after the
		// first margin and comes back up after the outage.
		writesDone := make(chan error, 1)
		go func() {
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
			for i := range n {
				<-tick.C
				if _, err := s.post(i); err != nil {
					writesDone <- err
					return
				}
			}
			writesDone <- nil
		}()
		time.Sleep(margin)
		endpoint.Close() // closes ln: connections are refused from now on
		down := time.Now()
		b.Logf("endpoint %s down for %s, %d writes at %d/s", addr, outage, n, rate)
		time.Sleep(outage)
		if ln, err = net.Listen("tcp", addr); err != nil {
			b.Fatalf("reopen the endpoint on %s: %v", addr, err)
		}
		up := time.Now()
		endpoint = &http.Server{Handler: handler}
		go endpoint.Serve(ln)
		b.Cleanup(func() { endpoint.Close() })
		if err := <-writesDone; err != nil {
			b.Fatal(err)
		}

		expected := s.alertMessageIDs()
		if len(expected) != n {
			b.Fatalf("%d alerts stored for %d acknowledged writes", len(expected), n)
		}
		// An alert written w into the outage is next tried, after the
		// endpoint is back, at w plus the first sum of the schedule's waits
		// that reaches past the outage; w is less than the outage.
		var wait time.Duration
		for attempt := 1; wait < outage; attempt++ {
			d, ok := retry(attempt)
			if !ok {
				break
			}
			wait += d
		}
		deadline := down.Add(outage + wait + margin + 2*delivery.DefaultPoll)
		lost, dup := 0, 0
		for {
			mu.Lock()
			lost, dup = 0, 0
			for _, id := range expected {
				if arrivals[id] == 0 {
					lost++
				}
			}
			for _, c := range arrivals {
				dup += c - 1
			}
			last := lastArrival
			mu.Unlock()
			if lost == 0 || time.Now().After(deadline) {
				fmt.Printf("outage %s: %d alerts expected, %d lost, %d duplicated; the last arrived %.1f s after the endpoint came back (%s)\n",
					outage, len(expected), lost, dup, last.Sub(up).Seconds(), s.db.Engine)
				b.ReportMetric(float64(len(expected)), "alerts")
				b.ReportMetric(float64(lost), "lost")
				b.ReportMetric(float64(dup), "dup")
				b.ReportMetric(last.Sub(up).Seconds(), "recovered-s")
				break
			}
			time.Sleep(time.Second)
		}
		if lost > 0 {
			b.Fatalf("%d of %d alerts lost", lost, len(expected))
		}
	}
}

// alertMessageIDs lists the webhook-id owed to the one subscription for
// each stored alert, in the form the store gives it (ClaimDeliveries):
// msg_, the alert id, _, the subscription id.
func (s *benchServer) alertMessageIDs() []string {
	s.b.Helper()
	hooks, err := s.db.FindWebhooks(context.Background())
	if err != nil || len(hooks) != 1 {
		s.b.Fatalf("webhooks %v, %v: want one", hooks, err)
	}
	var ids []string
	for after := int64(0); ; {
		page, err := s.db.FindAlerts(context.Background(), domain.AlertFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			s.b.Fatal(err)
		}
		for _, a := range page.Items {
			ids = append(ids, "msg_"+a.ID+"_"+strconv.FormatInt(hooks[0].ID, 10))
			after = a.Seq
		}
		if !page.More {
			return ids
		}
	}
}

// BenchmarkAlertHang (d) writes incidents inside the radius through the
// API at 100 a second for two phases of POSTWATCH_BENCH_PHASE each
// (default 30s), with two subscriptions: one endpoint answers at once
// throughout; the other answers at once in the first phase and hangs in
// the second (it accepts the request and never answers, so every attempt
// runs into the 10 s time-out). It reports the write p50/p99 of each
// phase, write-p99-change-% (second against first) and the healthy
// endpoint's delivery p99 in each phase.
// go test -tags=… -run '^$' -bench 'AlertHang$' -benchtime 1x ./delivery/
func BenchmarkAlertHang(b *testing.B) {
	phase := envDuration(b, "POSTWATCH_BENCH_PHASE", 30*time.Second)
	const rate = 100
	perPhase := int(phase.Seconds() * rate)
	for range b.N {
		s := newBenchServer(b, 2*perPhase, delivery.Options{})
		healthy := [2]*latencies{newLatencies(), newLatencies()}
		var hanging atomic.Bool
		release := make(chan struct{})
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			if i := s.writeOf(body); i >= 0 {
				healthy[i/perPhase].add(s, body)
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		b.Cleanup(rc.Close)
		flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			io.Copy(io.Discard, req.Body)
			if hanging.Load() {
				select {
				case <-req.Context().Done():
				case <-release:
				}
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		b.Cleanup(flaky.Close)
		b.Cleanup(func() { close(release) })
		s.subscribe(rc.URL)
		s.subscribe(flaky.URL)

		var writes [2][]time.Duration
		began := time.Now()
		tick := time.NewTicker(time.Second / rate)
		for i := range 2 * perPhase {
			if i == perPhase {
				hanging.Store(true)
			}
			<-tick.C
			took, err := s.post(i)
			if err != nil {
				b.Fatal(err)
			}
			writes[i/perPhase] = append(writes[i/perPhase], took)
		}
		tick.Stop()
		// Below 100 when the machine cannot keep the pace (a tick is
		// dropped when a write runs past it).
		b.ReportMetric(float64(2*perPhase)/time.Since(began).Seconds(), "writes/s")
		deadline := time.Now().Add(30 * time.Second)
		for p := range healthy {
			if !healthy[p].wait(perPhase, deadline) {
				b.Fatalf("phase %d: the healthy endpoint got %d of %d alerts", p+1, healthy[p].count(), perPhase)
			}
		}
		for p, name := range []string{"ok", "hang"} {
			report(b, "write-"+name, writes[p])
			report(b, "hook-"+name, healthy[p].sorted())
		}
		p99 := func(ds []time.Duration) float64 { return ms(ds[len(ds)*99/100]) }
		b.ReportMetric(100*(p99(writes[1])/p99(writes[0])-1), "write-p99-change-%")
	}
}
