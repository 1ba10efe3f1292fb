// Package domain holds postwatch's entities, their rules and the service
// interfaces the API depends on. It imports neither HTTP nor storage code.
package domain

import (
	"errors"
	"fmt"
)

// ErrorCode is the closed set of error kinds a client can see. Anything that
// is not a *Error is internal and its text never leaves the server.
type ErrorCode string

const (
	EINVALID        ErrorCode = "invalid"             // bad input: 400
	ENOTFOUND       ErrorCode = "not_found"           // no such record: 404
	ECONFLICT       ErrorCode = "conflict"            // clashes with stored state: 409
	EPRECONDITION   ErrorCode = "precondition_failed" // If-Match mismatch: 412
	ETOOLARGE       ErrorCode = "too_large"           // body or list over a limit: 413
	EHEADERTOOLARGE ErrorCode = "header_too_large"    // request line and headers over a limit: 431
	EUNSUPPORTED    ErrorCode = "unsupported_media"   // body in a format not taken: 415
	EUNAUTHORIZED   ErrorCode = "unauthorized"        // no or unknown token: 401
	EFORBIDDEN      ErrorCode = "forbidden"           // token lacks the role: 403
	ERATELIMITED    ErrorCode = "rate_limited"        // too many requests: 429
	ENOTACCEPTABLE  ErrorCode = "not_acceptable"      // Accept refuses every format offered: 406
	EUNAVAILABLE    ErrorCode = "unavailable"         // the database is busy or does not answer; retry: 503
	EINTERNAL       ErrorCode = "internal"            // anything else: 500
)

// FieldError names one offending input field by its JSON path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an application error whose message is safe to show to clients.
type Error struct {
	Code    ErrorCode
	Message string
	Fields  []FieldError
}

// Error returns the message, which already names the first bad field.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField returns an EINVALID error naming one field.
func InvalidField(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: EINVALID, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// ErrorCodeOf returns the code of an *Error in err's chain, or EINTERNAL.
func ErrorCodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// Problems collects field errors during validation so a client learns of
// every bad field at once rather than one per request.
type Problems []FieldError

// Add records a problem with a field.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when no problem was recorded, or an EINVALID *Error.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	msg := p[0].Field + ": " + p[0].Message
	if len(p) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(p)-1)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: p}
}
