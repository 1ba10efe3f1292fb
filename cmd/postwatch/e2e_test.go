package main

// The harness of the end-to-end tests and load benchmarks (crash_test.go,
// cli_test.go, gis_test.go, serve_limits_test.go, load_test.go): they build
// the real binary once, start `serve` as a subprocess on a fresh SQLite file
// and a free port, and talk to it the way clients and operators do (HTTP,
// signals, the other subcommands). Every helper takes a testing.TB, so a
// benchmark drives the binary as a test does. They are skipped under -short.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // driver "sqlite3", for integrity checks
)

// buildTags are the SQLite tags every build of postwatch uses, so the cgo
// build of SQLite is shared with `make build` and `make test`.
const buildTags = "sqlite_fts5,sqlite_math_functions"

// e2eBuildFlags are extra `go build` flags; race_test.go adds -race when the
// tests themselves run under the race detector, so the server is checked too.
var e2eBuildFlags []string

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary returns the path of the postwatch binary built for these tests
// and benchmarks, building it on first use. It skips under -short.
func binary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("end-to-end test: skipped under -short")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "postwatch-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "postwatch")
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		args := append([]string{"build", "-tags=" + buildTags}, e2eBuildFlags...)
		args = append(args, "-o", binPath, ".")
		cmd := exec.Command(goTool, args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		tb.Fatalf("building postwatch: %v", buildErr)
	}
	return binPath
}

// cleanEnv is the test's environment without POSTWATCH_* variables, which
// would change the subcommands' defaults.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POSTWATCH_") {
			env = append(env, kv)
		}
	}
	return env
}

// cliResult is what a finished subcommand printed and returned.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs a postwatch subcommand to completion.
func runCLI(tb testing.TB, args ...string) cliResult {
	tb.Helper()
	bin := binary(tb) // built before the command's time starts: a build on a busy machine takes longer than that
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		tb.Fatalf("postwatch %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// newToken runs `token create` and returns the token it printed.
func newToken(tb testing.TB, db, role string) string {
	tb.Helper()
	r := runCLI(tb, "token", "create", "--db", db, "--role", role, "--name", role+"-e2e")
	if r.code != 0 {
		tb.Fatalf("token create --role %s: exit %d\nstderr: %s", role, r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// lockedBuffer collects a subprocess's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running `postwatch serve`, started by startServer.
type server struct {
	tb     testing.TB
	db     string
	base   string // http://127.0.0.1:PORT
	cmd    *exec.Cmd
	log    *lockedBuffer // stderr: one line per request
	exited chan struct{} // closed when the process has exited
	state  *os.ProcessState
	// cleanExit makes the cleanup's stop stricter; see wantCleanExit.
	cleanExit bool
}

// startServer starts `serve` on db and a free port and waits until
// /readyz answers. The server is stopped with SIGTERM at cleanup.
func startServer(tb testing.TB, db string, extra ...string) *server {
	tb.Helper()
	s, err := tryStartServer(tb, db, extra...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// tryStartServer is startServer for goroutines other than the test's,
// which must not call Fatal: it returns what went wrong instead.
func tryStartServer(tb testing.TB, db string, extra ...string) (*server, error) {
	tb.Helper()
	bin := binary(tb)
	for attempt := 0; ; attempt++ {
		s := &server{tb: tb, db: db, log: &lockedBuffer{}, exited: make(chan struct{})}
		addr := freeAddr(tb)
		s.base = "http://" + addr
		s.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr, "--db", db}, extra...)...)
		s.cmd.Env = cleanEnv()
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		if err := s.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start serve: %w", err)
		}
		go func() {
			s.cmd.Wait()
			s.state = s.cmd.ProcessState
			close(s.exited)
		}()
		err := s.waitReady(20 * time.Second)
		if err == nil {
			tb.Cleanup(s.cleanup)
			return s, nil
		}
		s.cmd.Process.Kill()
		<-s.exited
		// Another process may have taken the port between our probe and
		// the server's bind; try another one.
		if strings.Contains(s.log.String(), "address already in use") && attempt < 3 {
			continue
		}
		return nil, fmt.Errorf("serve did not become ready: %w\n%s", err, s.log.String())
	}
}

// wantCleanExit makes the cleanup fail the test unless serve, sent
// SIGTERM, exits with status 0; it waits the shutdown grace period and 5 s
// more for it (instead of 10 s) before killing it. The load tests want it;
// tests that kill or stop the server themselves do not.
func (s *server) wantCleanExit() { s.cleanExit = true }

// cleanup stops the server at the end of the test, fails the test on a
// data race in serve, and logs what serve wrote if the test failed.
func (s *server) cleanup() {
	timeout := 10 * time.Second
	if s.cleanExit {
		timeout = shutdownGrace + 5*time.Second
	}
	if state := s.stop(timeout); s.cleanExit && state != nil && !state.Success() {
		s.tb.Errorf("serve exited with %v after SIGTERM", state)
	}
	if strings.Contains(s.log.String(), "DATA RACE") {
		s.tb.Errorf("the race detector found a data race in serve:\n%s", s.log.String())
	}
	if s.tb.Failed() {
		s.tb.Logf("serve --db %s log, without 2xx request lines (last lines):\n%s", filepath.Base(s.db), tail(withoutSuccesses(s.log.String()), 60))
	}
}

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("serve exited: %v", s.state)
		default:
		}
		resp, err := client.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("timed out waiting for /readyz")
}

// stop sends SIGTERM and waits for the process to exit; after timeout it
// kills it. It returns the exit state, and is safe to call more than once.
func (s *server) stop(timeout time.Duration) *os.ProcessState {
	select {
	case <-s.exited:
		return s.state
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(timeout):
		s.tb.Errorf("serve did not exit within %v of SIGTERM; killing it", timeout)
		s.cmd.Process.Kill()
		<-s.exited
	}
	return s.state
}

// kill sends SIGKILL: the process gets no chance to clean up.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// errorLines returns the request log lines with status >= 400.
func (s *server) errorLines() []string {
	var out []string
	for _, line := range strings.Split(s.log.String(), "\n") {
		if strings.Contains(line, "msg=request") && (strings.Contains(line, "status=4") || strings.Contains(line, "status=5")) {
			out = append(out, line)
		}
	}
	return out
}

// troubleLines returns the server log lines that a clean run never
// writes: errors (an internal error logs the SQLite message the 500 hides),
// timeouts, and any mention of a locked or busy database.
func (s *server) troubleLines() []string {
	var out []string
	for _, line := range strings.Split(s.log.String(), "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "level=error") || strings.Contains(l, "level=warn") ||
			strings.Contains(l, "locked") || strings.Contains(l, "busy") || strings.Contains(l, "panic") {
			out = append(out, line)
		}
	}
	return out
}

// withoutSuccesses drops the request lines of 2xx answers from a log.
func withoutSuccesses(log string) string {
	var keep []string
	for _, line := range strings.Split(log, "\n") {
		if !(strings.Contains(line, "msg=request") && strings.Contains(line, " status=2")) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// apiClient talks to a server with one token.
type apiClient struct {
	tb    testing.TB
	base  string
	token string
	http  *http.Client
}

func newClient(tb testing.TB, base, token string) *apiClient {
	return &apiClient{tb: tb, base: base, token: token, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16},
	}}
}

// request sends one request; body may be nil. It returns the transport
// error instead of failing, for tests that expect some requests to fail.
func (c *apiClient) request(method, path string, body []byte) (int, []byte, error) {
	return sendRequest(c.http, method, c.base+path, c.token, "application/geo+json", body)
}

// sendRequest sends one request with hc and reads the whole answer. body
// may be nil; contentType is sent with a body, and the token, unless
// empty, as a bearer token. It returns the transport error instead of
// failing, for callers that expect some requests to fail.
func sendRequest(hc *http.Client, method, url, token, contentType string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, data, fmt.Errorf("reading the body of a %d: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, data, nil
}

// getJSON GETs path, wants 200 and decodes the body into v.
func (c *apiClient) getJSON(path string, v any) {
	c.tb.Helper()
	status, body, err := c.request("GET", path, nil)
	if err != nil {
		c.tb.Fatalf("GET %s: %v", path, err)
	}
	if status != http.StatusOK {
		c.tb.Fatalf("GET %s: status %d: %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.tb.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

// featureCollection is the part of an items response the tests read.
type featureCollection struct {
	NumberMatched  int `json:"numberMatched"`
	NumberReturned int `json:"numberReturned"`
	Links          []struct {
		Href string `json:"href"`
		Rel  string `json:"rel"`
	} `json:"links"`
	Features []struct {
		ID         int64 `json:"id"`
		Properties struct {
			Title      string  `json:"title"`
			ExternalID *string `json:"external_id"`
			Version    int     `json:"version"`
		} `json:"properties"`
	} `json:"features"`
}

// incidentReply is the part of a single incident (a GET of an item, or
// the answer to its POST or PATCH) the tests read.
type incidentReply struct {
	ID         int64 `json:"id"`
	Properties struct {
		Title   string `json:"title"`
		Version int    `json:"version"`
	} `json:"properties"`
}

// numberMatched counts the incidents matching query by reading every page,
// so that it does not take the server's own count on trust.
func (c *apiClient) numberMatched(query string) int {
	c.tb.Helper()
	return len(c.titles(query))
}

// titles returns id → title of every incident matching query, following
// the next links page by page.
func (c *apiClient) titles(query string) map[int64]string {
	c.tb.Helper()
	out := map[int64]string{}
	path := "/collections/incidents/items?limit=10000" + query
	for pages := 0; path != ""; pages++ {
		if pages > 1000 {
			c.tb.Fatalf("more than 1000 pages of %s", query)
		}
		var fc featureCollection
		c.getJSON(path, &fc)
		for _, f := range fc.Features {
			if _, dup := out[f.ID]; dup {
				c.tb.Fatalf("incident %d appears on two pages", f.ID)
			}
			out[f.ID] = f.Properties.Title
		}
		path = ""
		for _, l := range fc.Links {
			if l.Rel == "next" {
				u, err := url.Parse(l.Href)
				if err != nil {
					c.tb.Fatalf("next link %q: %v", l.Href, err)
				}
				path = u.RequestURI()
			}
		}
	}
	return out
}

// incidentFeature is a valid incident as a GeoJSON Feature.
func incidentFeature(title string, lon, lat float64) []byte {
	b, _ := json.Marshal(map[string]any{
		"type":     "Feature",
		"geometry": map[string]any{"type": "Point", "coordinates": []float64{lon, lat}},
		"properties": map[string]any{
			"type": "protest", "title": title, "occurred_at": "2021-06-01T12:00:00Z", "severity": 2, "country": "IQ",
		},
	})
	return b
}

// acked records the incidents whose POST was answered 201.
type acked struct {
	mu     sync.Mutex
	titles map[int64]string
}

func newAcked() *acked { return &acked{titles: map[int64]string{}} }

func (a *acked) add(id int64, title string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.titles[id] = title
}

// snapshot copies what has been acknowledged so far.
func (a *acked) snapshot() map[int64]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[int64]string, len(a.titles))
	for k, v := range a.titles {
		out[k] = v
	}
	return out
}

// writerStats counts what concurrent writers saw.
type writerStats struct {
	mu        sync.Mutex
	responses int      // requests that got a status line
	errors    int      // requests that got no response (connection refused, reset)
	bad       []string // responses that were not what they should be
}

func (w *writerStats) fail(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.bad) < 20 {
		w.bad = append(w.bad, fmt.Sprintf(format, args...))
	}
}

// runWriters starts n goroutines that POST incidents until stop is
// closed, each with its own keep-alive connection. Every 201 is recorded in
// a; every response body must be complete JSON. It returns a func that
// waits for the writers.
func runWriters(c *apiClient, n int, prefix string, a *acked, st *writerStats, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				title := fmt.Sprintf("%s w%d n%d", prefix, w, i)
				status, body, err := c.request("POST", "/collections/incidents/items",
					incidentFeature(title, 44+float64(w)/10, 33+float64(i%100)/1000))
				if status == 0 {
					// No response at all: the server is gone or going.
					st.mu.Lock()
					st.errors++
					st.mu.Unlock()
					time.Sleep(5 * time.Millisecond)
					continue
				}
				st.mu.Lock()
				st.responses++
				st.mu.Unlock()
				if err != nil {
					st.fail("%s: status %d with a truncated body: %v", title, status, err)
					continue
				}
				if !json.Valid(body) {
					st.fail("%s: status %d with a body that is not JSON: %q", title, status, body)
					continue
				}
				if status != http.StatusCreated {
					st.fail("%s: status %d: %s", title, status, body)
					continue
				}
				var f incidentReply
				if err := json.Unmarshal(body, &f); err != nil || f.ID <= 0 || f.Properties.Title != title {
					st.fail("%s: 201 body does not echo the stored feature: %s", title, body)
					continue
				}
				a.add(f.ID, title)
			}
		}()
	}
	return wg.Wait
}

// checkAcked fails the test unless every acknowledged incident is stored
// with its title, at version 1 with a one-entry history.
func checkAcked(tb testing.TB, c *apiClient, want map[int64]string) {
	tb.Helper()
	have := c.titles("")
	missing := 0
	for id, title := range want {
		got, ok := have[id]
		switch {
		case !ok:
			missing++
			if missing <= 10 {
				tb.Errorf("acknowledged incident %d (%q) is lost", id, title)
			}
		case got != title:
			tb.Errorf("incident %d has title %q, acknowledged as %q", id, got, title)
		}
	}
	if missing > 0 {
		tb.Fatalf("%d of %d acknowledged incidents are lost", missing, len(want))
	}
	// The history of a sample (all, when few) is exactly version 1.
	checked := 0
	for id := range want {
		if checked == 60 {
			break
		}
		checked++
		var h struct {
			Versions []struct {
				Version int `json:"version"`
				Feature struct {
					Properties struct {
						Title string `json:"title"`
					} `json:"properties"`
				} `json:"feature"`
			} `json:"versions"`
		}
		c.getJSON(fmt.Sprintf("/collections/incidents/items/%d/history", id), &h)
		if len(h.Versions) != 1 || h.Versions[0].Version != 1 || h.Versions[0].Feature.Properties.Title != want[id] {
			tb.Errorf("history of incident %d: %+v, want one version 1 titled %q", id, h.Versions, want[id])
		}
	}
}

// integrityCheck runs PRAGMA integrity_check on a database file.
func integrityCheck(tb testing.TB, path string) {
	tb.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`PRAGMA integrity_check`)
	if err != nil {
		tb.Fatalf("integrity_check on %s: %v", path, err)
	}
	defer rows.Close()
	var results []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			tb.Fatal(err)
		}
		results = append(results, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("integrity_check on %s: %v", path, err)
	}
	if len(results) != 1 || results[0] != "ok" {
		tb.Fatalf("integrity_check on %s: %q", path, results)
	}
}
