package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
)

// logBuffer collects a server's log output.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withServer returns a copy of e whose server is built with opts over the
// same store and tokens. wrap, when set, may swap services first; logs go
// to log (debug level and up), or nowhere.
func (e *env) withServer(t *testing.T, opts api.Options, log io.Writer, wrap func(*api.Services)) *env {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	svc := api.Services{Incidents: e.store, Facilities: e.store, Actors: e.store, Tokens: e.store, Alerts: e.store, Webhooks: e.store, DB: e.store}
	if wrap != nil {
		wrap(&svc)
	}
	srv, err := api.NewWithOptions(svc, slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})), opts)
	if err != nil {
		t.Fatal(err)
	}
	c := *e
	c.t, c.server = t, srv
	return &c
}

// call is one request of a scenario: who sends it, from where, and what
// must come back.
type call struct {
	method, url string
	role        domain.Role // token of that role; "" for none
	secret      string      // a bearer secret to send instead of role's
	from        string      // RemoteAddr; 192.0.2.1 when empty
	headers     []string
	status      int
	retryAfter  string // wanted Retry-After on a 429
}

// send runs c through the real router, checking status and, for errors,
// the problem body.
func (e *env) send(t *testing.T, c call) *response {
	t.Helper()
	req := httptest.NewRequest(c.method, c.url, nil)
	req.RemoteAddr = "192.0.2.1:40000"
	if c.from != "" {
		req.RemoteAddr = c.from
	}
	switch {
	case c.secret != "":
		req.Header.Set("Authorization", "Bearer "+c.secret)
	case c.role != "":
		req.Header.Set("Authorization", "Bearer "+e.tokens[c.role])
	}
	for i := 0; i+1 < len(c.headers); i += 2 {
		req.Header.Set(c.headers[i], c.headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.server.ServeHTTP(rec, req)
	r := &response{rec, t}
	if c.status >= 400 {
		r.wantProblem(c.status, "")
	} else {
		r.wantStatus(c.status)
	}
	if got := r.Header().Get("Retry-After"); got != c.retryAfter {
		t.Fatalf("%s %s: Retry-After %q, want %q", c.method, c.url, got, c.retryAfter)
	}
	return r
}

// repeat is n copies of c.
func repeat(n int, c call) []call {
	out := make([]call, n)
	for i := range out {
		out[i] = c
	}
	return out
}

func concat(parts ...[]call) []call {
	var out []call
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestRateLimit: each token has a bucket of 2N requests refilled at N a
// second; requests not yet authenticated spend from their address's
// bucket, so guessing tokens is limited too; health checks never are.
func TestRateLimit(t *testing.T) {
	base := newEnv(t)
	const list = "/collections"
	ok := func(role domain.Role) call { return call{method: "GET", url: list, role: role, status: http.StatusOK} }
	limited := func(role domain.Role) call {
		return call{method: "GET", url: list, role: role, status: http.StatusTooManyRequests, retryAfter: "1"}
	}
	guess := call{method: "GET", url: list, secret: "pw_guessed", status: http.StatusUnauthorized}
	tests := []struct {
		name  string
		opts  api.Options
		calls []call
	}{
		{"off by default: 50 requests on one token pass", api.Options{},
			repeat(50, ok(domain.RoleAnalyst))},
		{"a token gets its burst of 2N, then 429 with Retry-After", api.Options{RateLimit: 1},
			concat(repeat(2, ok(domain.RoleAnalyst)), repeat(2, limited(domain.RoleAnalyst)))},
		{"tokens have separate buckets", api.Options{RateLimit: 1},
			concat(repeat(2, ok(domain.RoleAnalyst)), []call{limited(domain.RoleAnalyst)}, repeat(2, ok(domain.RoleOfficer)))},
		{"the bucket follows the token, not the address or the way it is sent", api.Options{RateLimit: 1},
			concat(repeat(2, ok(domain.RoleAnalyst)), []call{
				{method: "GET", url: list, role: domain.RoleAnalyst, from: "198.51.100.9:1", status: http.StatusTooManyRequests, retryAfter: "1"},
				{method: "GET", url: list + "?access_token=" + base.tokens[domain.RoleAnalyst], from: "198.51.100.10:1", status: http.StatusTooManyRequests, retryAfter: "1"},
			})},
		{"a 429 on an admin route is problem+json too", api.Options{RateLimit: 1},
			[]call{
				{method: "GET", url: "/tokens", role: domain.RoleAdmin, status: http.StatusOK},
				{method: "GET", url: "/tokens", role: domain.RoleAdmin, status: http.StatusOK},
				{method: "POST", url: "/tokens", role: domain.RoleAdmin, status: http.StatusTooManyRequests, retryAfter: "1"},
			}},
		{"guesses spend the address's bucket; then even a valid token from there waits", api.Options{RateLimit: 1},
			concat(repeat(2, guess), []call{
				{method: "GET", url: list, secret: "pw_guessed", status: http.StatusTooManyRequests, retryAfter: "1"},
				{method: "GET", url: list, status: http.StatusTooManyRequests, retryAfter: "1"},
				limited(domain.RoleAnalyst),
				{method: "GET", url: list, role: domain.RoleAnalyst, from: "198.51.100.9:1", status: http.StatusOK},
				{method: "GET", url: list, secret: "pw_guessed", from: "198.51.100.9:1", status: http.StatusUnauthorized},
			})},
		{"X-Forwarded-For from an untrusted peer does not buy a fresh bucket", api.Options{RateLimit: 1},
			concat(repeat(2, guess), []call{
				{method: "GET", url: list, secret: "pw_guessed", headers: []string{"X-Forwarded-For", "203.0.113.1"}, status: http.StatusTooManyRequests, retryAfter: "1"},
				{method: "GET", url: list, secret: "pw_guessed", headers: []string{"X-Forwarded-For", "203.0.113.2"}, status: http.StatusTooManyRequests, retryAfter: "1"},
			})},
		{"behind a trusted proxy, X-Forwarded-For names the client", api.Options{RateLimit: 1, TrustedProxies: []string{"192.0.2.0/24"}},
			concat(repeat(2, guess), []call{
				{method: "GET", url: list, secret: "pw_guessed", status: http.StatusTooManyRequests, retryAfter: "1"},
				{method: "GET", url: list, secret: "pw_guessed", headers: []string{"X-Forwarded-For", "203.0.113.1"}, status: http.StatusUnauthorized},
				{method: "GET", url: list, secret: "pw_guessed", headers: []string{"X-Forwarded-For", "203.0.113.2"}, status: http.StatusUnauthorized},
			})},
		{"IPv6 clients are keyed by their /64", api.Options{RateLimit: 1},
			[]call{
				{method: "GET", url: list, secret: "pw_guessed", from: "[2001:db8:1:2::a]:1", status: http.StatusUnauthorized},
				{method: "GET", url: list, secret: "pw_guessed", from: "[2001:db8:1:2::b]:1", status: http.StatusUnauthorized},
				{method: "GET", url: list, secret: "pw_guessed", from: "[2001:db8:1:2:ffff::c]:1", status: http.StatusTooManyRequests, retryAfter: "1"},
				{method: "GET", url: list, secret: "pw_guessed", from: "[2001:db8:1:3::a]:1", status: http.StatusUnauthorized},
			}},
		{"valid tokens and 403s spend their token's bucket, not the address's", api.Options{RateLimit: 1},
			concat([]call{ok(domain.RoleAnalyst), {method: "GET", url: "/tokens", role: domain.RoleAnalyst, status: http.StatusForbidden},
				{method: "GET", url: "/tokens", role: domain.RoleAnalyst, status: http.StatusTooManyRequests, retryAfter: "1"}},
				repeat(2, ok(domain.RoleOfficer)), repeat(2, ok(domain.RoleAdmin)), repeat(2, guess))},
		{"health checks are never limited", api.Options{RateLimit: 1},
			concat(repeat(2, guess), []call{{method: "GET", url: list, status: http.StatusTooManyRequests, retryAfter: "1"}},
				repeat(20, call{method: "GET", url: "/healthz", status: http.StatusOK}),
				repeat(20, call{method: "GET", url: "/readyz", status: http.StatusOK}))},
		{"a rate under 0.5/s still allows one request", api.Options{RateLimit: 0.1},
			[]call{ok(domain.RoleAnalyst), {method: "GET", url: list, role: domain.RoleAnalyst, status: http.StatusTooManyRequests, retryAfter: "10"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base.withServer(t, tt.opts, nil, nil)
			for i, c := range tt.calls {
				r := e.send(t, c)
				if c.status == http.StatusTooManyRequests {
					p := r.json()
					if p["type"] != "https://postwatch.dev/problems/rate_limited" || !strings.Contains(p["detail"].(string), "retry in") {
						t.Fatalf("call %d: 429 problem %s", i, r.Body.String())
					}
				}
			}
		})
	}
}

// TestRateLimitRefills: a token gets at least its burst of 2N, an emptied
// bucket lets requests through again after 1/N s, and Retry-After never
// rounds down to 0.
func TestRateLimitRefills(t *testing.T) {
	e := newEnv(t).withServer(t, api.Options{RateLimit: 50}, nil, nil)
	send := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/conformance", nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens[domain.RoleAnalyst])
		rec := httptest.NewRecorder()
		e.server.ServeHTTP(rec, req)
		return rec
	}
	passed := 0
	for ; passed < 1000; passed++ {
		if r := send(); r.Code != http.StatusOK {
			(&response{r, t}).wantProblem(http.StatusTooManyRequests, "")
			if ra := r.Header().Get("Retry-After"); ra != "1" {
				t.Fatalf("Retry-After %q, want 1", ra)
			}
			break
		}
	}
	if passed < 100 || passed == 1000 {
		t.Fatalf("%d requests passed before the first 429, want at least the burst of 100 and then a 429", passed)
	}
	time.Sleep(100 * time.Millisecond) // 5 requests' worth at 50/s
	for i := 0; i < 3; i++ {
		if r := send(); r.Code != http.StatusOK {
			t.Fatalf("request %d after the refill: %d %s", i, r.Code, r.Body.String())
		}
	}
}

// slowIncidents is a store whose incident queries last until the request's
// context ends, as a query scanning far too much would, or, with quick,
// answer an empty page at once; it records the deadline it was given.
type slowIncidents struct {
	domain.IncidentService
	quick    bool
	mu       sync.Mutex
	deadline time.Time
	hasDL    bool
	err      error
}

func (s *slowIncidents) FindIncidents(ctx context.Context, f domain.IncidentFilter) (*domain.IncidentPage, error) {
	s.mu.Lock()
	s.deadline, s.hasDL = ctx.Deadline()
	s.mu.Unlock()
	if s.quick {
		return &domain.IncidentPage{}, nil
	}
	select {
	case <-ctx.Done():
		s.mu.Lock()
		s.err = ctx.Err()
		s.mu.Unlock()
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		return nil, nil
	}
}

// TestRequestTimeout: every request's context has a deadline; a query
// still running then is cancelled and the client gets a 503 naming the
// limit, never a 500, and nothing is half written.
func TestRequestTimeout(t *testing.T) {
	base := newEnv(t)
	slow := func(s **slowIncidents, quick bool) func(*api.Services) {
		return func(svc *api.Services) {
			*s = &slowIncidents{IncidentService: svc.Incidents, quick: quick}
			svc.Incidents = *s
		}
	}
	items := "/collections/incidents/items"
	tests := []struct {
		name    string
		timeout time.Duration
		slow    bool
		quick   bool // the query answers at once
		method  string
		url     string
		body    any
		status  int
		detail  string
	}{
		{name: "a slow query is cancelled at the deadline", timeout: 100 * time.Millisecond, slow: true,
			method: "GET", url: items, status: http.StatusServiceUnavailable, detail: "the request took longer than 0.1 s"},
		{name: "the default deadline is 30 s", slow: true, quick: true, timeout: 0,
			method: "GET", url: items, status: http.StatusOK},
		{name: "a read on the real store past its deadline", timeout: time.Nanosecond,
			method: "GET", url: items, status: http.StatusServiceUnavailable, detail: "the request took longer than 0.000000001 s"},
		{name: "a write on the real store past its deadline", timeout: time.Nanosecond,
			method: "POST", url: items, body: incidentJSON(44.36, 33.31, map[string]any{"title": "too late"}),
			status: http.StatusServiceUnavailable, detail: "the request took longer than 0.000000001 s"},
		{name: "a fast request is untouched", timeout: 5 * time.Second,
			method: "GET", url: items, status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *slowIncidents
			var wrap func(*api.Services)
			if tt.slow {
				wrap = slow(&s, tt.quick)
			}
			log := &logBuffer{}
			e := base.withServer(t, api.Options{RequestTimeout: tt.timeout}, log, wrap).in(t)
			start := time.Now()
			r := e.do(tt.method, tt.url, tt.body, domain.RoleOfficer)
			took := time.Since(start)
			if tt.status != http.StatusOK {
				r.wantProblem(tt.status, "")
				p := r.json()
				if d, _ := p["detail"].(string); !strings.HasPrefix(d, tt.detail) {
					t.Fatalf("detail %q, want it to start %q", d, tt.detail)
				}
				if p["type"] != "https://postwatch.dev/problems/timeout" || p["request_id"] == "" {
					t.Fatalf("timeout problem %s", r.Body.String())
				}
				if strings.Contains(log.String(), "internal error") || !strings.Contains(log.String(), "request timed out") {
					t.Fatalf("log does not report a timeout:\n%s", log.String())
				}
			} else {
				r.wantStatus(tt.status)
			}
			want := tt.timeout
			if want == 0 {
				want = api.DefaultRequestTimeout
			}
			if s != nil {
				s.mu.Lock()
				defer s.mu.Unlock()
				if d := s.deadline.Sub(start); !s.hasDL || d < want || d > want+time.Second {
					t.Fatalf("query context deadline %v after the start (set %v), want %v", s.deadline.Sub(start), s.hasDL, want)
				}
				if !tt.quick && s.err != context.DeadlineExceeded {
					t.Fatalf("the query ended with %v, want context.DeadlineExceeded", s.err)
				}
				if took > want+2*time.Second {
					t.Fatalf("the request took %v with a %v deadline", took, want)
				}
			}
		})
	}
	if n := base.count("/collections/incidents/items?q=late"); n != 0 {
		t.Fatalf("%d incidents written by requests that timed out", n)
	}
}

// TestNoSecretsInLogs: a token sent in the query string or the header never
// reaches the log, whatever the outcome, while the request line does.
func TestNoSecretsInLogs(t *testing.T) {
	const querySecret, headerSecret = "SECRET-q-3f9a1c", "SECRET2-h-77c1b0"
	log := &logBuffer{}
	var s *slowIncidents
	base := newEnv(t)
	e := base.withServer(t, api.Options{RequestTimeout: 200 * time.Millisecond}, log, func(svc *api.Services) {
		s = &slowIncidents{IncidentService: svc.Incidents}
		svc.Incidents = s
	})
	valid := base.tokens[domain.RoleAnalyst]
	tests := []struct {
		name   string
		call   call
		secret string
	}{
		{"unknown secrets in query and header", call{method: "GET", url: "/collections?access_token=" + querySecret,
			secret: headerSecret, status: http.StatusUnauthorized}, querySecret},
		{"unknown secret in the query only", call{method: "GET", url: "/collections/incidents?f=json&access_token=" + querySecret,
			status: http.StatusUnauthorized}, querySecret},
		{"valid token in the query", call{method: "GET", url: "/collections?access_token=" + valid, status: http.StatusOK}, valid},
		{"valid token in the query with a bad parameter", call{method: "GET", url: "/collections?bogus=1&access_token=" + valid,
			status: http.StatusBadRequest}, valid},
		{"valid token in the query on a request that fails with 503", call{method: "GET",
			url: "/collections/incidents/items?access_token=" + valid, status: http.StatusServiceUnavailable}, valid},
		{"valid token in the header on a 404", call{method: "GET", url: "/collections/nope", secret: valid,
			status: http.StatusNotFound}, valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(log.String())
			e.send(t, tt.call)
			logged := log.String()[before:]
			path := tt.call.url[:strings.IndexAny(tt.call.url+"?", "?")]
			if !strings.Contains(logged, "msg=request method=GET path="+path+" status="+strconv.Itoa(tt.call.status)) {
				t.Fatalf("the request line is not logged:\n%s", logged)
			}
			for _, secret := range []string{querySecret, headerSecret, tt.secret, "access_token"} {
				if strings.Contains(logged, secret) {
					t.Fatalf("the log holds %q:\n%s", secret, logged)
				}
			}
		})
	}
}

// TestRequestIDs: a sane X-Request-Id is kept and echoed in the response
// header, in problem bodies and in the log line; anything else is replaced
// by a fresh id.
func TestRequestIDs(t *testing.T) {
	log := &logBuffer{}
	e := newEnv(t).withServer(t, api.Options{}, log, nil)
	hexID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name   string
		sent   string // "" sends no header
		kept   bool
		call   call
		status int
	}{
		{"kept on a 401", "trace-abc-123", true, call{method: "GET", url: "/collections"}, http.StatusUnauthorized},
		{"kept on a 404", "trace-404", true, call{method: "GET", url: "/collections/nope", role: domain.RoleAnalyst}, http.StatusNotFound},
		{"kept on a 400", "3f1d2c8a-7b9e-4c1a-9d0e-112233445566", true, call{method: "GET", url: "/collections?nope=1", role: domain.RoleAnalyst}, http.StatusBadRequest},
		{"kept on a 200", "ok-1", true, call{method: "GET", url: "/collections", role: domain.RoleAnalyst}, http.StatusOK},
		{"made when absent", "", false, call{method: "GET", url: "/collections"}, http.StatusUnauthorized},
		{"replaced when it holds spaces", "a b", false, call{method: "GET", url: "/collections"}, http.StatusUnauthorized},
		{"replaced when it could forge a log line", "x\nmsg=forged", false, call{method: "GET", url: "/collections"}, http.StatusUnauthorized},
		{"replaced when longer than 64", strings.Repeat("a", 65), false, call{method: "GET", url: "/collections"}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.call
			c.status = tt.status
			if tt.sent != "" {
				c.headers = []string{"X-Request-Id", tt.sent}
			}
			before := len(log.String())
			r := e.send(t, c)
			got := r.Header().Get("X-Request-Id")
			if tt.kept && got != tt.sent {
				t.Fatalf("X-Request-Id %q, want %q echoed", got, tt.sent)
			}
			if !tt.kept && !hexID.MatchString(got) {
				t.Fatalf("X-Request-Id %q, want a fresh 16-hex id", got)
			}
			if tt.status >= 400 {
				if id := r.json()["request_id"]; id != got {
					t.Fatalf("problem request_id %v, header %q", id, got)
				}
			}
			if logged := log.String()[before:]; !strings.Contains(logged, "request_id="+got) {
				t.Fatalf("log line lacks request_id=%s:\n%s", got, logged)
			}
		})
	}
	a := e.send(t, call{method: "GET", url: "/collections", status: http.StatusUnauthorized}).Header().Get("X-Request-Id")
	b := e.send(t, call{method: "GET", url: "/collections", status: http.StatusUnauthorized}).Header().Get("X-Request-Id")
	if a == b {
		t.Fatalf("two requests got the same id %q", a)
	}
}

// TestHTMLPagesSecurityHeaders: pages forbid framing, sniffing, referrers
// and content from other origins.
func TestHTMLPagesSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.createIncident(44.36, 33.31, nil)
	for _, url := range []string{"/?f=html", "/collections?f=html", "/collections/incidents/items?f=html", "/collections/incidents/items/1?f=html", "/api.html", "/conformance?f=html"} {
		t.Run(url, func(t *testing.T) {
			r := e.in(t).do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
			if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Content-Type %q, want text/html", ct)
			}
			r.wantHeader("X-Content-Type-Options", "nosniff").
				wantHeader("X-Frame-Options", "DENY").
				wantHeader("Referrer-Policy", "no-referrer")
			csp := r.Header().Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Fatalf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*") {
				t.Fatalf("Content-Security-Policy %q is too loose", csp)
			}
		})
	}
}

// TestHTMLPagesEscapeRecords: text an officer stored is shown, never run.
// The only scripts of a page are the map's module, by URL, and the data
// block of its features, which holds the text JSON-escaped.
func TestHTMLPagesEscapeRecords(t *testing.T) {
	e := newEnv(t)
	const payload = `<script>alert("pw")</script><img src=x onerror=alert(1)>`
	id := e.createIncident(44.36, 33.31, map[string]any{"title": payload, "description": payload})
	allowed := regexp.MustCompile(`^<script type="module" src="[^"]+">$|^<script type="application/geo\+json" id="features">$`)
	for _, url := range []string{"/collections/incidents/items?f=html", "/collections/incidents/items/" + strconv.FormatInt(id, 10) + "?f=html"} {
		t.Run(url, func(t *testing.T) {
			body := e.in(t).do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.String()
			for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
				if !allowed.MatchString(tag) {
					t.Fatalf("the page holds the markup unescaped (%s):\n%s", tag, body)
				}
			}
			if strings.Contains(body, "<img") {
				t.Fatalf("the page holds the markup unescaped:\n%s", body)
			}
			if !strings.Contains(body, "&lt;script&gt;") {
				t.Fatalf("the page does not show the title escaped:\n%s", body)
			}
		})
	}
}

// TestTokenLifecycle: admins issue tokens whose secret is shown once and
// carries 256 random bits; listings never show secrets or hashes; expiry
// and revocation take effect on the next request.
func TestTokenLifecycle(t *testing.T) {
	e := newEnv(t)
	secretForm := regexp.MustCompile(`^pw_[A-Za-z0-9_-]{43}$`)
	vars := map[string]string{}
	issued := func(key string) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			p := r.json()
			secret, _ := p["token"].(string)
			if !secretForm.MatchString(secret) {
				t.Fatalf("secret %q is not pw_ + 43 base64url characters", secret)
			}
			raw, err := base64.RawURLEncoding.DecodeString(secret[3:])
			if err != nil || len(raw)*8 < 256 {
				t.Fatalf("secret carries %d bits (%v), want 256", len(raw)*8, err)
			}
			for k, v := range vars {
				if strings.HasPrefix(k, "secret") && v == secret {
					t.Fatalf("two tokens got the same secret")
				}
			}
			id := strconv.FormatFloat(p["id"].(float64), 'f', -1, 64)
			if loc := r.Header().Get("Location"); !strings.HasSuffix(loc, "/tokens/"+id) {
				t.Fatalf("Location %q", loc)
			}
			r.wantHeader("Cache-Control", "no-store")
			vars["secret"+key], vars["id"+key] = secret, id
		}
	}
	bearer := func(key string) []string { return []string{"Authorization", "Bearer {secret" + key + "}"} }
	anHourAgo := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	inAnHour := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.runSteps(t, vars, []step{
		{name: "officers may not issue tokens", method: "POST", url: "/tokens", body: map[string]any{"name": "x", "role": "admin"},
			role: domain.RoleOfficer, status: http.StatusForbidden},
		{name: "analysts may not list tokens", method: "GET", url: "/tokens", role: domain.RoleAnalyst, status: http.StatusForbidden},
		{name: "analysts may not revoke tokens", method: "DELETE", url: "/tokens/1", role: domain.RoleAnalyst, status: http.StatusForbidden},
		{name: "an unknown role is refused", method: "POST", url: "/tokens", body: map[string]any{"name": "x", "role": "root"},
			role: domain.RoleAdmin, status: http.StatusBadRequest, field: "role"},
		{name: "an unknown field is refused", method: "POST", url: "/tokens", body: map[string]any{"name": "x", "role": "analyst", "hash": "00"},
			role: domain.RoleAdmin, status: http.StatusBadRequest, field: "hash"},
		{name: "a bad expiry is refused", method: "POST", url: "/tokens", body: map[string]any{"name": "x", "role": "analyst", "expires_at": "tomorrow"},
			role: domain.RoleAdmin, status: http.StatusBadRequest, field: "expires_at"},
		{name: "issue A", method: "POST", url: "/tokens", body: map[string]any{"name": "dashboard", "role": "analyst"},
			role: domain.RoleAdmin, status: http.StatusCreated, check: issued("A")},
		{name: "issue B", method: "POST", url: "/tokens", body: map[string]any{"name": "dashboard", "role": "analyst"},
			role: domain.RoleAdmin, status: http.StatusCreated, check: issued("B")},
		{name: "issue C, expiring in an hour", method: "POST", url: "/tokens", body: map[string]any{"name": "contractor", "role": "officer", "expires_at": inAnHour},
			role: domain.RoleAdmin, status: http.StatusCreated, check: issued("C")},
		{name: "a token that has already expired is refused", method: "POST", url: "/tokens", body: map[string]any{"name": "late", "role": "officer", "expires_at": anHourAgo},
			role: domain.RoleAdmin, status: http.StatusBadRequest, field: "expires_at"},
		{name: "A works at once", method: "GET", url: "/collections", headers: bearer("A"), status: http.StatusOK},
		{name: "A works in the query string", method: "GET", url: "/collections?access_token={secretA}", status: http.StatusOK},
		{name: "A has its role only", method: "GET", url: "/tokens", headers: bearer("A"), status: http.StatusForbidden},
		{name: "C works before it expires", method: "GET", url: "/collections", headers: bearer("C"), status: http.StatusOK},
		{name: "the listing holds no secret or hash", method: "GET", url: "/tokens", role: domain.RoleAdmin, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				body := r.Body.String()
				for _, k := range []string{"A", "B", "C"} {
					sum := sha256.Sum256([]byte(vars["secret"+k]))
					for _, leak := range []string{vars["secret"+k], vars["secret"+k][3:], hex.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(sum[:])} {
						if strings.Contains(body, leak) {
							t.Fatalf("GET /tokens holds token %s's secret or hash %q", k, leak)
						}
					}
				}
				tokens := r.json()["tokens"].([]any)
				if len(tokens) != len(domain.Roles)+3 {
					t.Fatalf("%d tokens listed, want %d", len(tokens), len(domain.Roles)+3)
				}
				for _, tok := range tokens {
					for k := range tok.(map[string]any) {
						switch k {
						case "id", "name", "role", "created_at", "expires_at", "revoked_at":
						default:
							t.Fatalf("token listing has field %q: %v", k, tok)
						}
					}
				}
			}},
		{name: "revoke A", method: "DELETE", url: "/tokens/{idA}", role: domain.RoleAdmin, status: http.StatusNoContent},
		{name: "A is refused at once", method: "GET", url: "/collections", headers: bearer("A"), status: http.StatusUnauthorized},
		{name: "A is refused in the query string too", method: "GET", url: "/collections?access_token={secretA}", status: http.StatusUnauthorized},
		{name: "B, issued with the same name and role, still works", method: "GET", url: "/collections", headers: bearer("B"), status: http.StatusOK},
		{name: "the listing shows A revoked", method: "GET", url: "/tokens", role: domain.RoleAdmin, status: http.StatusOK,
			check: func(t *testing.T, r *response) {
				for _, tok := range r.json()["tokens"].([]any) {
					m := tok.(map[string]any)
					if strconv.FormatFloat(m["id"].(float64), 'f', -1, 64) == vars["idA"] && m["revoked_at"] == nil {
						t.Fatalf("revoked token listed without revoked_at: %v", m)
					}
				}
			}},
		{name: "revoking twice is 404", method: "DELETE", url: "/tokens/{idA}", role: domain.RoleAdmin, status: http.StatusNotFound},
		{name: "revoking an unknown id is 404", method: "DELETE", url: "/tokens/999999", role: domain.RoleAdmin, status: http.StatusNotFound},
		{name: "revoking a non-number is 404", method: "DELETE", url: "/tokens/abc", role: domain.RoleAdmin, status: http.StatusNotFound},
	})
	t.Run("C is refused once its expiry passes", func(t *testing.T) {
		*e.store.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		defer func() { *e.store.Now = time.Now }()
		e.in(t).do("GET", "/collections", nil, "", "Authorization", "Bearer "+vars["secretC"]).wantProblem(http.StatusUnauthorized, "")
		e.in(t).do("GET", "/collections", nil, "", "Authorization", "Bearer "+vars["secretB"]).wantStatus(http.StatusOK)
	})
}

// TestRevocationWhileTokenInUse: a token in use by concurrent requests
// while an admin revokes it is refused by every request that starts after
// DELETE /tokens/{id} has answered — also when a lookup that read the row
// before the revocation committed caches it afterwards.
func TestRevocationWhileTokenInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("a stress test")
	}
	e := newEnv(t)
	get := func(secret string) int {
		req := httptest.NewRequest("GET", "/conformance", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		e.server.ServeHTTP(rec, req)
		return rec.Code
	}
	const rounds = 100
	accepted := 0
	for range rounds {
		tok := &domain.Token{Name: "busy", Role: domain.RoleAnalyst}
		secret, err := e.store.CreateToken(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						get(secret)
					}
				}
			}()
		}
		e.do("DELETE", "/tokens/"+strconv.FormatInt(tok.ID, 10), nil, domain.RoleAdmin).wantStatus(http.StatusNoContent)
		close(stop)
		wg.Wait()
		if get(secret) != http.StatusUnauthorized {
			accepted++
		}
	}
	if accepted > 0 {
		t.Fatalf("in %d of %d rounds the revoked token was still accepted after DELETE answered 204", accepted, rounds)
	}
}

// TestCORS: any origin may call the API, because a token travels in a
// header a page must set itself, never in a cookie a browser adds; so no
// credentials are allowed and preflights answer without a token.
func TestCORS(t *testing.T) {
	e := newEnv(t)
	origin := []string{"Origin", "https://dashboard.example"}
	tests := []struct {
		name    string
		method  string
		role    domain.Role
		headers []string
		status  int
		want    map[string]string
	}{
		{name: "a read from another origin", method: "GET", role: domain.RoleAnalyst, headers: origin, status: http.StatusOK,
			want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": ""}},
		{name: "a refusal is readable too", method: "GET", headers: origin, status: http.StatusUnauthorized,
			want: map[string]string{"Access-Control-Allow-Origin": "*"}},
		{name: "a preflight needs no token", method: "OPTIONS", status: http.StatusNoContent,
			headers: append([]string{"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization"}, origin...),
			want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "",
				"Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, If-None-Match, Accept, X-Request-Id, Last-Event-ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.in(t).do(tt.method, "/collections/incidents/items", nil, tt.role, tt.headers...)
			r.wantStatus(tt.status)
			for h, v := range tt.want {
				r.wantHeader(h, v)
			}
			if exposed := r.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(exposed, "Retry-After") || !strings.Contains(exposed, "X-Request-Id") ||
				!strings.Contains(exposed, "Content-Disposition") {
				t.Fatalf("Access-Control-Expose-Headers %q", exposed)
			}
		})
	}
}

// TestTokensExpire: a token stops working once the store's clock passes
// its expiry, also while it sits in the authentication cache.
func TestTokensExpire(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/tokens", map[string]any{"name": "contractor", "role": "analyst",
		"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, domain.RoleAdmin).wantStatus(http.StatusCreated)
	secret := r.json()["token"].(string)
	e.do("GET", "/collections", nil, "", "Authorization", "Bearer "+secret).wantStatus(http.StatusOK)
	*e.store.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	e.do("GET", "/collections", nil, "", "Authorization", "Bearer "+secret).wantProblem(http.StatusUnauthorized, "")
}
