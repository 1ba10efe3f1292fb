package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/klauspost/compress/gzhttp"

	"github.com/postwatch/postwatch/domain"
)

const (
	ctxRequestID = "pw.request_id"
	ctxToken     = "pw.token"
	// ctxSecret is the bearer secret, which a long-lived alert stream
	// presents again to learn whether its token was revoked.
	ctxSecret = "pw.secret"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// withRequestID tags each request with an id, echoed in X-Request-Id, in
// problem bodies and in logs, so a report can be traced. A client-supplied
// id is kept when it is short and printable.
func withRequestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

// logRequests writes one line per request. The query string is left out:
// it may carry an access_token.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if !s.log.Enabled(c.Request.Context(), level) {
		return
	}
	s.log.Log(c.Request.Context(), level, "request",
		"method", c.Request.Method, "path", c.Request.URL.Path, "status", status,
		"duration_ms", float64(time.Since(start).Microseconds())/1000, "request_id", requestID(c))
}

// recoverPanics turns a panic into a logged 500 problem, and so a render
// that failed before writing anything (gin's c.JSON marshals first and
// records the error): without this, gin would send the status already set
// with an empty body — a 200 that lies.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.writeError(c, fmt.Errorf("panic: %v", r))
		}
	}()
	c.Next()
	if err := c.Errors.Last(); err != nil && !c.Writer.Written() {
		s.writeError(c, fmt.Errorf("render: %w", err.Err))
	}
}

// limitBody caps request bodies; reading past the cap fails and the
// decoders report ETOOLARGE.
func limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	}
	c.Next()
}

// cors lets browser dashboards on other origins call the API. Tokens travel
// in headers, never cookies, so any origin may be allowed. Last-Event-ID
// is not CORS-safelisted (Fetch §2.2.2), so an alert stream client that
// resumes with the header, as fetch-based SSE clients sending
// Authorization do, needs it allowed; exports name their file in
// Content-Disposition.
func cors(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "ETag, Location, Link, X-Request-Id, Retry-After, Content-Disposition")
	if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, If-None-Match, Accept, X-Request-Id, Last-Event-ID")
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// authenticate resolves the bearer token (header, or access_token for map
// clients that cannot set headers) and requires role for the route. With
// rate limiting on, it also holds the request to its token's bucket.
func (s *Server) authenticate(role domain.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		// The scheme is case-insensitive (RFC 9110 §11.1).
		scheme, secret, ok := strings.Cut(c.GetHeader("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			secret = c.Query("access_token")
		}
		secret = strings.TrimSpace(secret)
		// Until a token proves itself, the request spends from its client
		// address's bucket, so guessing tokens is held to the rate limit
		// before any lookup is made; a valid token gets the draw back.
		var ip string
		if s.guessLimit != nil {
			ip = clientKey(c)
			if ok, wait := s.guessLimit.take(ip); !ok {
				s.writeRateLimited(c, wait, "too many unauthenticated requests from this address")
				return
			}
		}
		if secret == "" {
			s.writeError(c, domain.Errorf(domain.EUNAUTHORIZED, "a bearer token is required (Authorization: Bearer TOKEN or ?access_token=TOKEN)"))
			return
		}
		tok, err := s.tokens.Authenticate(c.Request.Context(), secret)
		if err != nil {
			if domain.ErrorCodeOf(err) == domain.EUNAUTHORIZED {
				err = domain.Errorf(domain.EUNAUTHORIZED, "the token is unknown, revoked or expired")
			}
			s.writeError(c, err)
			return
		}
		if s.guessLimit != nil {
			s.guessLimit.refund(ip)
			// From here on the token's own bucket pays, keyed by its id
			// whichever way the secret came, for 403s as for the rest.
			if ok, wait := s.tokenLimit.take("token:" + strconv.FormatInt(tok.ID, 10)); !ok {
				s.writeRateLimited(c, wait, "too many requests for this token")
				return
			}
		}
		if !tok.Role.Allows(role) {
			s.writeError(c, domain.Errorf(domain.EFORBIDDEN, "this route needs the %s role; the token has %s", role, tok.Role))
			return
		}
		c.Set(ctxToken, tok)
		c.Set(ctxSecret, secret)
		c.Request = c.Request.WithContext(domain.WithPrincipal(c.Request.Context(), tok))
		c.Next()
	}
}

// callerRole is the role of the authenticated token.
func callerRole(c *gin.Context) domain.Role {
	if t, ok := c.Get(ctxToken); ok {
		return t.(*domain.Token).Role
	}
	return ""
}

// onlyDeclaredParams answers 400 for a query parameter the route does not
// declare in the OpenAPI document, as OGC API – Features requires.
func (s *Server) onlyDeclaredParams(declared map[string]bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		// URL.Query drops what it cannot parse; a filter silently dropped
		// would answer a different question than the client asked.
		query, err := url.ParseQuery(c.Request.URL.RawQuery)
		if err != nil {
			s.writeError(c, domain.InvalidField("query", "is not a valid query string: %s", err.Error()))
			return
		}
		for name := range query {
			// access_token may accompany any request, public ones included.
			if !declared[name] && name != "access_token" {
				s.writeError(c, domain.InvalidField(name, "unknown query parameter; this route takes %s", sortedKeys(declared)))
				return
			}
		}
		c.Next()
	}
}

func sortedKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

// DefaultRequestTimeout bounds a request when Options.RequestTimeout is 0.
const DefaultRequestTimeout = 30 * time.Second

// withDeadline gives each request's context a deadline, so a slow query is
// interrupted (the SQLite driver interrupts a statement whose context ends)
// and the client gets a 503 instead of waiting on a stuck connection.
func withDeadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.FullPath() == alertStreamPath {
			c.Next() // a stream lasts as long as its client wants
			return
		}
		if c.FullPath() == exportPath {
			c.Next() // an export bounds each of its steps instead
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		orig := c.Request
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		// The middleware before this one must not mistake the cancel
		// above for a client that hung up.
		c.Request = orig
	}
}

// writeRateLimited answers 429 with Retry-After in whole seconds, rounded
// up so that a client retrying on time finds a request in its bucket.
func (s *Server) writeRateLimited(c *gin.Context, wait time.Duration, why string) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	c.Header("Retry-After", strconv.Itoa(secs))
	s.writeError(c, domain.Errorf(domain.ERATELIMITED, "%s; retry in %d s", why, secs))
}

// clientKey is the rate-limit key of an unauthenticated request: the
// client address (gin's ClientIP, which believes X-Forwarded-For only from
// Options.TrustedProxies). An IPv6 client is keyed by its /64, the block a
// single subscriber gets, so rotating addresses within it gains nothing.
func clientKey(c *gin.Context) string {
	ip := net.ParseIP(c.ClientIP())
	if ip == nil {
		return "ip:" + c.ClientIP()
	}
	if ip.To4() == nil {
		ip = ip.Mask(net.CIDRMask(64, 128))
	}
	return "ip:" + ip.String()
}

// maxBuckets bounds the memory of one limiter: at roughly 150 bytes a
// bucket, about 10 MiB.
const maxBuckets = 1 << 16

// limiter is a set of token buckets, one per key. A bucket holds at most
// burst requests and refills at rate per second. A bucket left alone until
// it is full again is indistinguishable from a new one, so idle buckets are
// dropped; memory stays bounded by the keys active in the last few seconds
// and, under a flood of fresh keys, by maxBuckets.
type limiter struct {
	rate, burst float64
	now         func() time.Time
	max         int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// newLimiter allows rate requests a second with bursts of twice that (and
// at least one, so a rate under 0.5 still lets requests through).
func newLimiter(rate float64) *limiter {
	return &limiter{rate: rate, burst: max(2*rate, 1), now: time.Now, max: maxBuckets, buckets: map[string]*bucket{}}
}

// refillTime is how long an empty bucket takes to fill up.
func (l *limiter) refillTime() time.Duration {
	return time.Duration(l.burst / l.rate * float64(time.Second))
}

// take spends one request from key's bucket. When the bucket is empty it
// reports how long until it holds one request again.
func (l *limiter) take(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucket(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// refund gives back a request take spent.
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, l.now())
	b.tokens = min(l.burst, b.tokens+1)
}

// bucket returns key's bucket refilled up to now, making one if needed.
// Callers hold mu.
func (l *limiter) bucket(key string, now time.Time) *bucket {
	if now.Sub(l.lastSweep) >= max(l.refillTime(), 5*time.Second) {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		// At the cap, forget an arbitrary bucket: that key merely starts
		// over with a full one. (Sweeping here instead would cost a pass
		// over every bucket per new key, under the lock.)
		for k := range l.buckets {
			if len(l.buckets) < l.max {
				break
			}
			delete(l.buckets, k)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
		return b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.at = now
	}
	return b
}

// sweep drops the buckets idle long enough to be full again.
func (l *limiter) sweep(now time.Time) {
	full := l.refillTime()
	for k, b := range l.buckets {
		if now.Sub(b.at) >= full {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}

// compressible says which responses the gzip middleware (gzhttp, wrapped
// around the whole engine) compresses for clients that accept gzip: what
// gzhttp compresses by default — not images, video or archives, and no body
// under 1 KB or with a Content-Encoding already (tiles compress themselves)
// — except Server-Sent Events, which must reach the client event by event.
func compressible(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	return gzhttp.DefaultContentTypeFilter(ct) && !strings.HasPrefix(ct, "text/event-stream")
}
