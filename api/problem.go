package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

// problem is an RFC 9457 problem details body.
type problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Instance  string              `json:"instance,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []domain.FieldError `json:"errors,omitempty"`
}

// statusOf is the one mapping from error codes to HTTP statuses.
var statusOf = map[domain.ErrorCode]int{
	domain.EINVALID:        http.StatusBadRequest,
	domain.ENOTFOUND:       http.StatusNotFound,
	domain.ECONFLICT:       http.StatusConflict,
	domain.EPRECONDITION:   http.StatusPreconditionFailed,
	domain.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	domain.EHEADERTOOLARGE: http.StatusRequestHeaderFieldsTooLarge,
	domain.EUNSUPPORTED:    http.StatusUnsupportedMediaType,
	domain.EUNAUTHORIZED:   http.StatusUnauthorized,
	domain.EFORBIDDEN:      http.StatusForbidden,
	domain.ERATELIMITED:    http.StatusTooManyRequests,
	domain.ENOTACCEPTABLE:  http.StatusNotAcceptable,
	domain.EUNAVAILABLE:    http.StatusServiceUnavailable,
	domain.EINTERNAL:       http.StatusInternalServerError,
}

const problemContentType = "application/problem+json"

// writeError renders err as problem+json. Only *domain.Error messages reach
// the client. A request that ran out of time gets a 503 saying so; anything
// else is logged and answered with a bare 500.
func (s *Server) writeError(c *gin.Context, err error) {
	var de *domain.Error
	status := 0
	switch {
	case errors.As(err, &de):
		status = statusOf[de.Code]
	case errors.Is(err, http.ErrAbortHandler):
		panic(err)
	case clientGone(c, err):
		// A client that hung up (a map panning away from its tiles) is not
		// a server error: logged at info, answered 499 as nginx does, to
		// nobody.
		s.log.Info("client closed the request", "method", c.Request.Method, "path", c.Request.URL.Path, "request_id", requestID(c))
		c.AbortWithStatus(statusClientClosedRequest)
		return
	case timedOut(c, err):
		s.log.Warn("request timed out", "err", err, "timeout", s.requestTimeout, "method", c.Request.Method,
			"path", c.Request.URL.Path, "request_id", requestID(c))
		status = http.StatusServiceUnavailable
		msg := "the request took too long"
		if s.requestTimeout > 0 {
			msg = "the request took longer than " + strconv.FormatFloat(s.requestTimeout.Seconds(), 'f', -1, 64) + " s"
		}
		de = &domain.Error{Code: "timeout", Message: msg + "; narrow the query or retry later"}
	default:
		s.log.Error("internal error", "err", err, "method", c.Request.Method, "path", c.Request.URL.Path, "request_id", requestID(c))
		de = &domain.Error{Code: domain.EINTERNAL, Message: "internal error; the request id identifies it in the server log"}
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	p := problem{
		Type:      "https://postwatch.dev/problems/" + string(de.Code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    de.Message,
		Instance:  c.Request.URL.Path,
		RequestID: requestID(c),
		Errors:    de.Fields,
	}
	if de.Code == domain.EUNAVAILABLE {
		// A busy SQLite file or a PostgreSQL server that went away: the
		// pool reconnects on a later request once the database is back.
		s.log.Warn("database unavailable", "err", err, "method", c.Request.Method, "path", c.Request.URL.Path, "request_id", requestID(c))
		c.Header("Retry-After", strconv.Itoa(retryUnavailableSeconds))
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="postwatch"`)
	}
	c.Header("Content-Type", problemContentType)
	c.Header("Cache-Control", "no-store")
	// gin keeps a Content-Type set before rendering.
	c.AbortWithStatusJSON(status, p)
}

// timedOut tells whether err comes from the request's deadline. The SQLite
// driver may report an interrupted statement in its own words, so a
// request whose context has run out counts whatever the error says.
func timedOut(c *gin.Context, err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(c.Request.Context().Err(), context.DeadlineExceeded)
}

// statusClientClosedRequest is nginx's status for a request whose client
// went away before the answer; it never reaches a client.
const statusClientClosedRequest = 499

// retryUnavailableSeconds is the Retry-After of a 503 for a database busy
// with another process's write: an import commits at least once a second.
const retryUnavailableSeconds = 2

// clientGone tells whether err comes from the client hanging up rather
// than from the server: the request's context was cancelled without its
// deadline passing. The SQLite driver reports an interrupted statement in
// its own words, so the context decides whatever the error says.
func clientGone(c *gin.Context, err error) bool {
	ctx := c.Request.Context()
	return !errors.Is(ctx.Err(), context.DeadlineExceeded) &&
		(errors.Is(ctx.Err(), context.Canceled) || (errors.Is(err, context.Canceled) && ctx.Err() != nil))
}
