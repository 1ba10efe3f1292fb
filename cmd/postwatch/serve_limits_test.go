package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServerOptions: the flags that tune the API are checked before serve
// opens anything; a bad value is a usage error.
func TestServerOptions(t *testing.T) {
	tests := []struct {
		rate, timeout, proxies string
		wantRate               float64
		wantTimeout            time.Duration
		wantProxies            []string
		wantErr                string
	}{
		{rate: "0", timeout: "30s", wantTimeout: 30 * time.Second},
		{rate: "20", timeout: "5s", wantRate: 20, wantTimeout: 5 * time.Second},
		{rate: "0.5", timeout: "2m", proxies: "10.0.0.0/8, 192.0.2.1", wantRate: 0.5, wantTimeout: 2 * time.Minute,
			wantProxies: []string{"10.0.0.0/8", "192.0.2.1"}},
		{rate: "-1", timeout: "30s", wantErr: "--rate-limit"},
		{rate: "NaN", timeout: "30s", wantErr: "--rate-limit"},
		{rate: "+Inf", timeout: "30s", wantErr: "--rate-limit"},
		{rate: "ten", timeout: "30s", wantErr: "--rate-limit"},
		{rate: "0", timeout: "0s", wantErr: "--request-timeout"},
		{rate: "0", timeout: "-5s", wantErr: "--request-timeout"},
		{rate: "0", timeout: "30", wantErr: "--request-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.rate+" "+tt.timeout+" "+tt.proxies, func(t *testing.T) {
			opts, err := serverOptions(tt.rate, tt.timeout, tt.proxies)
			if tt.wantErr != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want a usage error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.RateLimit != tt.wantRate || opts.RequestTimeout != tt.wantTimeout || !slices.Equal(opts.TrustedProxies, tt.wantProxies) {
				t.Fatalf("options %+v", opts)
			}
		})
	}
}

// TestServeRateLimit: `serve --rate-limit N` answers 429 with Retry-After
// once a token has spent its burst of 2N, while health checks still
// answer; a bad value of a serve flag, given as the flag or as its
// POSTWATCH_ variable, stops serve with exit 2.
func TestServeRateLimit(t *testing.T) {
	bin := binary(t)
	db := filepath.Join(t.TempDir(), "limit.db")
	token := newToken(t, db, "analyst")

	for _, bad := range []struct{ args, env []string }{
		{args: []string{"--rate-limit", "-3"}},
		{env: []string{"POSTWATCH_RATE_LIMIT=lots"}},
		{args: []string{"--request-timeout", "0s"}},
		{env: []string{"POSTWATCH_SEED=yes"}},
		{args: []string{"--durability", "fast"}},
		{env: []string{"POSTWATCH_DURABILITY=FULL"}},
		{args: []string{"--base-url", "ops.example.org/postwatch"}},
		{env: []string{"POSTWATCH_BASE_URL=https://ops.example.org/?x=1"}},
	} {
		cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, bad.args...)...)
		cmd.Env = append(cleanEnv(), bad.env...)
		out, err := cmd.CombinedOutput()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
			t.Fatalf("serve %v %v: %v, want exit 2\n%s", bad.args, bad.env, err, out)
		}
	}

	srv := startServer(t, db, "--rate-limit", "2", "--request-timeout", "10s")
	get := func(path, token string) *http.Response {
		req, _ := http.NewRequest("GET", srv.base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	var codes []int
	var limited *http.Response
	for range 12 {
		r := get("/collections", token)
		codes = append(codes, r.StatusCode)
		if r.StatusCode == http.StatusTooManyRequests && limited == nil {
			limited = r
		}
	}
	if limited == nil || !slices.Equal(codes[:4], []int{200, 200, 200, 200}) {
		t.Fatalf("statuses %v: want a burst of 4 and then 429s", codes)
	}
	if ra := limited.Header.Get("Retry-After"); ra != "1" || limited.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("429 with Retry-After %q, Content-Type %q", ra, limited.Header.Get("Content-Type"))
	}
	for range 10 {
		if r := get("/healthz", ""); r.StatusCode != http.StatusOK {
			t.Fatalf("/healthz answered %d under the rate limit", r.StatusCode)
		}
	}
	if log := srv.log.String(); !strings.Contains(log, "rate_limit=2") || !strings.Contains(log, "request_timeout=10s") {
		t.Fatalf("serve does not log its limits:\n%s", log)
	}
}

// TestDebugAddrServesProfilesApart: --debug-addr serves pprof on its own
// listener, and the API's address never does.
func TestDebugAddrServesProfilesApart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	debug := freeAddr(t)
	srv := startServer(t, filepath.Join(t.TempDir(), "debug.db"), "--debug-addr", debug)
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"http://" + debug + "/debug/pprof/", http.StatusOK},
		{"http://" + debug + "/debug/pprof/heap?debug=1", http.StatusOK},
		{srv.base + "/debug/pprof/", http.StatusNotFound},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: status %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
}

// TestOversizedAndMalformedRequestsGetProblems: what the API refuses
// itself and what net/http refuses before any handler runs (a head over
// its limit, a malformed request) are problem+json alike.
func TestOversizedAndMalformedRequestsGetProblems(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "heads.db")
	token := newToken(t, db, "analyst")
	srv := startServer(t, db)
	addr := strings.TrimPrefix(srv.base, "http://")
	auth := "Authorization: Bearer " + token + "\r\n"
	tests := []struct {
		name   string
		head   string
		status int
	}{
		{"a 96 KB query string", "GET /collections/incidents/items?q=" + strings.Repeat("a", 96<<10) + " HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 431},
		{"a 96 KB header", "GET /collections HTTP/1.1\r\nHost: x\r\n" + auth + "X-Padding: " + strings.Repeat("a", 96<<10) + "\r\n\r\n", 431},
		{"many headers", "GET /collections HTTP/1.1\r\nHost: x\r\n" + auth + strings.Repeat("X-A: "+strings.Repeat("b", 1000)+"\r\n", 80) + "\r\n", 431},
		{"a 1 MB header, beyond net/http's own limit", "GET /collections HTTP/1.1\r\nHost: x\r\nX-Padding: " + strings.Repeat("a", 1<<20) + "\r\n\r\n", 431},
		{"a malformed header line", "GET /collections HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400},
		{"a malformed request line", "GET\r\n\r\n", 400},
		{"a bad Host", "GET /collections HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			go conn.Write([]byte(tc.head)) // the server may answer before it has read everything
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("Content-Type %q: %s", ct, body)
			}
			var p struct {
				Status int    `json:"status"`
				Title  string `json:"title"`
				Type   string `json:"type"`
			}
			if err := json.Unmarshal(body, &p); err != nil || p.Status != tc.status || p.Title == "" || p.Type == "" {
				t.Fatalf("not a problem: %s (%v)", body, err)
			}
		})
	}
}

// TestAlertFlags: --alert-window takes a positive duration, --webhook-allow
// CIDRs or single addresses; anything else is a usage error naming the flag.
func TestAlertFlags(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{{"72h", 72 * time.Hour}, {"90m", 90 * time.Minute}, {"0s", 0}, {"-1h", 0}, {"3d", 0}, {"", 0}} {
		got, err := parseAlertWindow(c.in)
		var ue usageError
		if c.want == 0 && (!errors.As(err, &ue) || !strings.Contains(err.Error(), "--alert-window")) {
			t.Errorf("--alert-window %q: %v, want a usage error naming the flag", c.in, err)
		}
		if c.want != 0 && (err != nil || got != c.want) {
			t.Errorf("--alert-window %q: %s (%v), want %s", c.in, got, err, c.want)
		}
	}
	got, err := parseCIDRs(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,10.1.2.3/8")
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "10.0.0.0/8"}
	if err != nil || len(got) != len(want) {
		t.Fatalf("parseCIDRs: %v (%v), want %v", got, err, want)
	}
	for i := range got {
		if got[i].String() != want[i] {
			t.Errorf("entry %d: %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8,,x"} {
		var ue usageError
		if _, err := parseCIDRs(bad); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--webhook-allow") {
			t.Errorf("--webhook-allow %q: %v, want a usage error naming the flag", bad, err)
		}
	}
	if got, err := parseCIDRs(""); err != nil || len(got) != 0 {
		t.Errorf("empty --webhook-allow: %v (%v), want no restriction", got, err)
	}
}

// TestEnvBool: POSTWATCH_SEED and its kind read as --seed=VALUE does, so
// TRUE seeds as true does; a value that is no boolean is a usage error
// naming the variable, never a silent false.
func TestEnvBool(t *testing.T) {
	for _, c := range []struct {
		raw     string
		want    bool
		invalid bool
	}{{"", false, false}, {"1", true, false}, {"true", true, false}, {"TRUE", true, false}, {"True", true, false},
		{" t ", true, false}, {"0", false, false}, {"false", false, false}, {"FALSE", false, false},
		{"yes", false, true}, {"on", false, true}, {"2", false, true}} {
		t.Setenv("POSTWATCH_SEED", c.raw)
		got, err := envBool("seed")
		var ue usageError
		if c.invalid {
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "POSTWATCH_SEED") {
				t.Errorf("POSTWATCH_SEED=%q: %v, want a usage error naming it", c.raw, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("POSTWATCH_SEED=%q: %v (%v), want %v", c.raw, got, err, c.want)
		}
	}
}

// TestCacheSizeFlags: --tile-cache and --incident-cache take bytes or whole
// KiB, MiB or GiB; 0 turns the cache off (-1 for the options); anything
// else is a usage error naming the flag.
func TestCacheSizeFlags(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{{"64MiB", 64 << 20}, {"512KiB", 512 << 10}, {"1GiB", 1 << 30}, {"100000", 100000}, {"0", -1}} {
		got, err := parseCacheSize("tile-cache", c.in)
		if err != nil || got != c.want {
			t.Errorf("--tile-cache %q: %d (%v), want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "64MB", "-1", "1.5MiB", "MiB", "99999999999GiB"} {
		var ue usageError
		for _, flag := range []string{"tile-cache", "incident-cache"} {
			if _, err := parseCacheSize(flag, bad); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--"+flag) {
				t.Errorf("--%s %q: %v, want a usage error naming the flag", flag, bad, err)
			}
		}
	}
}
