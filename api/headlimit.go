package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

// MaxHeaderBytes bounds a request's line and headers together. The server
// lets net/http read up to NetHTTPHeaderBytes so that this limit is
// enforced here, with a problem+json 431 that names the request id, rather
// than by net/http's plain-text answer.
const (
	MaxHeaderBytes     = 64 << 10
	NetHTTPHeaderBytes = 4 * MaxHeaderBytes
)

// limitHead answers 431 (RFC 6585 §5) when the request line and headers
// exceed MaxHeaderBytes, counted as net/http counts them on the wire.
func (s *Server) limitHead(c *gin.Context) {
	r := c.Request
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	if n > MaxHeaderBytes {
		field := "headers"
		if len(r.RequestURI) > MaxHeaderBytes/2 {
			field = "query" // the usual culprit: a filter or a list of ids
		}
		s.writeError(c, &domain.Error{Code: domain.EHEADERTOOLARGE,
			Message: fmt.Sprintf("the request line and headers hold %d bytes, more than %d; send long filters in fewer or shorter parameters", n, MaxHeaderBytes),
			Fields:  []domain.FieldError{{Field: field, Message: fmt.Sprintf("request line and headers over %d bytes", MaxHeaderBytes)}}})
		return
	}
	c.Next()
}

// ProblemListener wraps ln so that the answers net/http writes on its own,
// before any handler runs (a request head over http.Server.MaxHeaderBytes,
// a malformed request line, an unsupported transfer coding), are
// problem+json like every other error (RFC 9457), not text/plain.
func ProblemListener(ln net.Listener) net.Listener { return problemListener{ln} }

type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return problemConn{c}, nil
}

type problemConn struct{ net.Conn }

// netHTTPErrorHeaders follows the status line of every answer net/http
// writes by itself (net/http/server.go, conn.serve); a handler's answers
// always carry postwatch's own headers, which sort before Content-Type,
// so they never match.
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c problemConn) Write(p []byte) (int, error) {
	if out, ok := rewriteNetHTTPError(p); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// rewriteNetHTTPError turns one of net/http's own plain-text answers into
// the same status with a problem+json body.
func rewriteNetHTTPError(p []byte) ([]byte, bool) {
	const prefix = "HTTP/1.1 "
	if !bytes.HasPrefix(p, []byte(prefix)) || len(p) < len(prefix)+4 {
		return nil, false
	}
	i := bytes.Index(p, []byte(netHTTPErrorHeaders))
	if i < 0 || bytes.IndexByte(p[:i], '\n') >= 0 {
		return nil, false
	}
	status, err := strconv.Atoi(string(p[len(prefix) : len(prefix)+3]))
	if err != nil || status < 400 {
		return nil, false
	}
	code := domain.EINVALID
	detail := "net/http refused the request: " + string(p[i+len(netHTTPErrorHeaders):])
	var fields []domain.FieldError
	if status == http.StatusRequestHeaderFieldsTooLarge {
		code = domain.EHEADERTOOLARGE
		detail = fmt.Sprintf("the request line and headers are larger than %d bytes", NetHTTPHeaderBytes)
		fields = []domain.FieldError{{Field: "headers", Message: detail}}
	} else if status >= 500 {
		code = "not_implemented" // 501: a transfer coding net/http does not know
	}
	body, _ := json.Marshal(problem{Type: "https://postwatch.dev/problems/" + string(code), Title: http.StatusText(status),
		Status: status, Detail: detail, Errors: fields})
	out := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), problemContentType, len(body))
	return append(out, body...), true
}
