package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/kiln-dev/kiln/internal/store"
)

// Code is a stable error code; transports map each to a status in one table.
type Code string

// Error codes (DESIGN.md's API conventions).
const (
	CodeValidation      Code = "validation_failed"
	CodeMalformed       Code = "malformed_request"
	CodeUnauthorized    Code = "unauthorized"
	CodeForbidden       Code = "forbidden"
	CodeNotFound        Code = "not_found"
	CodeConflict        Code = "conflict"
	CodeUnprocessable   Code = "unprocessable"
	CodePrecondition    Code = "precondition_failed"
	CodePayloadTooLarge Code = "payload_too_large"
	CodeUnsupportedType Code = "unsupported_media_type"
	CodeMethodNotAllow  Code = "method_not_allowed"
	CodeRateLimited     Code = "rate_limited"
	CodeTimeout         Code = "query_timeout"
	// CodeInvalidTransition is a state change the state machine refuses (a conflict).
	CodeInvalidTransition Code = "invalid_transition"
	CodeLogicFailed       Code = "logic_failed" // an expression of the spec's logic could not be computed
	CodeInternal          Code = "internal"
	// CodeUnavailable is a database outage: the request may be retried after RetryAfter.
	CodeUnavailable Code = "unavailable"
)

// unavailableRetryAfter is the Retry-After of an unavailable answer, in seconds: long enough
// for a failover or a restart to begin healing, short enough not to idle a healthy client.
const unavailableRetryAfter = 2

// FieldError is one problem with one field or parameter.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Rule names the spec rule that failed, when a rule did.
	Rule string `json:"rule,omitempty"`
}

// Error is the one error type transports render: a stable code, a client-safe message,
// field errors, and the cause for logs only.
type Error struct {
	Code Code
	// Class is the general code that decides the status when Code is a spec's own (a rule's
	// insufficient_stock is a conflict); empty when Code is one of the codes above.
	Class   Code
	Message string
	Fields  []FieldError
	Cause   error
	// RetryAfter, in seconds, for rate_limited and unavailable.
	RetryAfter int
	// clash is the unique clash a conflict names, which the store completes once the
	// transaction is over (nameClash).
	clash *uniqueClash
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Cause }

// StatusCode is the code the status table maps: Class when set, else Code.
func (e *Error) StatusCode() Code {
	if e.Class != "" {
		return e.Class
	}
	return e.Code
}

// Errorf makes an Error without field details.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError turns any error into an *Error: a database outage is unavailable, unknown errors
// become internal, each with the cause kept.
func AsError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		// the request's deadline (server.query_timeout), however it was met: in the database,
		// or in a hook or Go action that returned its context's error
		return timeoutError(err)
	case errors.Is(err, store.ErrInvalidValue):
		return &Error{Code: CodeValidation, Message: "a value has a form the database cannot store or compare", Cause: err}
	case errors.Is(err, store.ErrUnavailable):
		return &Error{Code: CodeUnavailable, Message: "the service is briefly unavailable: try again shortly",
			RetryAfter: unavailableRetryAfter, Cause: err}
	}
	return &Error{Code: CodeInternal, Message: "internal error", Cause: err}
}

// fieldErrors collects validation problems so every one is reported at once.
type fieldErrors []FieldError

func (fe *fieldErrors) add(field, code, format string, args ...any) {
	*fe = append(*fe, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (fe fieldErrors) err(code Code, msg string) error {
	if len(fe) == 0 {
		return nil
	}
	return &Error{Code: code, Message: msg, Fields: fe}
}
