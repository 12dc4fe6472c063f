// Package rest is Kiln's REST transport: routes built from the spec, strict JSON decoding,
// a per-resource record encoder and RFC 9457 problem responses. It translates HTTP to
// service calls and never decides business steps itself.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/kiln-dev/kiln/internal/service"
)

// statusOf is the one table from error codes to HTTP status; unknown codes are 500.
var statusOf = map[service.Code]int{
	service.CodeValidation:      http.StatusBadRequest,
	service.CodeMalformed:       http.StatusBadRequest,
	service.CodeUnauthorized:    http.StatusUnauthorized,
	service.CodeForbidden:       http.StatusForbidden,
	service.CodeNotFound:        http.StatusNotFound,
	service.CodeMethodNotAllow:  http.StatusMethodNotAllowed,
	service.CodeConflict:        http.StatusConflict,
	service.CodeUnprocessable:   http.StatusUnprocessableEntity,
	service.CodePrecondition:    http.StatusPreconditionFailed,
	service.CodePayloadTooLarge: http.StatusRequestEntityTooLarge,
	service.CodeUnsupportedType: http.StatusUnsupportedMediaType,
	service.CodeRateLimited:     http.StatusTooManyRequests,
	service.CodeTimeout:         http.StatusServiceUnavailable,
	service.CodeInternal:        http.StatusInternalServerError,
	service.CodeUnavailable:     http.StatusServiceUnavailable,
}

// Status returns the HTTP status for an error code.
func Status(code service.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

type problem struct {
	Type      string               `json:"type"`
	Title     string               `json:"title"`
	Status    int                  `json:"status"`
	Error     service.Code         `json:"error"`
	Detail    string               `json:"detail,omitempty"`
	Errors    []service.FieldError `json:"errors,omitempty"`
	RequestID string               `json:"request_id"`
}

type ctxKey int

const requestIDKey ctxKey = 1

// WithRequestID stores the request id for problem responses and logs.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id stored by WithRequestID.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// StatusClientClosed is the status an answer to a client that closed its request gets in
// the access log (nginx's 499): the client is not there to read it.
const StatusClientClosed = 499

// clientLeft reports whether the request's client closed it: its context was cancelled
// (net/http cancels it when the connection closes), not ended by a deadline.
func clientLeft(r *http.Request) bool {
	return errors.Is(r.Context().Err(), context.Canceled)
}

func statusText(status int) string {
	if status == StatusClientClosed {
		return "Client Closed Request"
	}
	return http.StatusText(status)
}

// logProblem logs what an error answer does not tell its client: an internal error's cause,
// a known condition's cause (an outage, a deadline), a logic_failed answer's expression. A
// client that left is no error of the server's: debug only.
func logProblem(r *http.Request, log *slog.Logger, e *service.Error, status int) {
	ctx, id := r.Context(), RequestID(r.Context())
	switch {
	case status == StatusClientClosed:
		log.DebugContext(ctx, "client closed the request", "request_id", id, "code", string(e.Code))
	case status == http.StatusInternalServerError:
		log.ErrorContext(ctx, "request failed", "request_id", id, "error", e.Error())
	case status >= 500:
		log.WarnContext(ctx, "request not served", "request_id", id, "code", string(e.Code), "error", e.Error())
	case e.Code == service.CodeLogicFailed:
		log.WarnContext(ctx, "logic could not be computed", "request_id", id, "error", e.Error())
	}
}

// WriteError renders err as problem+json. Internal errors are logged with the request id
// and show the client nothing but the code; a logic_failed answer's expression is logged too.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e := service.AsError(err)
	status := Status(e.StatusCode())
	if status >= 500 && clientLeft(r) {
		// The client closed the request: whatever failed after that failed because it left
		// (its statements were cancelled), not the server. Nobody reads the answer; the access
		// log says 499, as nginx does, and no error is logged.
		status = StatusClientClosed
	}
	p := problem{Type: "about:blank", Title: statusText(status), Status: status, Error: e.Code,
		Detail: e.Message, Errors: e.Fields, RequestID: RequestID(r.Context())}
	if status == StatusClientClosed || status == http.StatusInternalServerError {
		p.Detail, p.Errors = "", nil
	}
	logProblem(r, log, e, status)
	if e.Code == service.CodeRateLimited || e.Code == service.CodeUnavailable || e.Code == service.CodeTimeout || e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(e.RetryAfter, 1)))
	}
	if e.Code == service.CodeUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kiln"`)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}
