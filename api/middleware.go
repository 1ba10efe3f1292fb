package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

const (
	ctxRequestID = "pw.request_id"
	ctxToken     = "pw.token"
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

// recoverPanics turns a panic into a logged 500 problem.
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
// in headers, never cookies, so any origin may be allowed.
func cors(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "ETag, Location, Link, X-Request-Id, Retry-After")
	if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, If-None-Match, Accept, X-Request-Id")
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// authenticate resolves the bearer token (header, or access_token for map
// clients that cannot set headers) and requires role for the route.
func (s *Server) authenticate(role domain.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		secret, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			secret = c.Query("access_token")
		}
		secret = strings.TrimSpace(secret)
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
		if !tok.Role.Allows(role) {
			s.writeError(c, domain.Errorf(domain.EFORBIDDEN, "this route needs the %s role; the token has %s", role, tok.Role))
			return
		}
		c.Set(ctxToken, tok)
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
		for name := range c.Request.URL.Query() {
			if !declared[name] {
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
