// Package rest is Kiln's REST transport: routes built from the spec, strict JSON decoding,
// a per-resource record encoder and RFC 9457 problem responses. It translates HTTP to
// service calls and never decides business steps itself.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
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

// WriteError renders err as problem+json. Internal errors are logged with the request id
// and show the client nothing but the code; a logic_failed answer's expression is logged too.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e := service.AsError(err)
	status := Status(e.StatusCode())
	p := problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Error: e.Code,
		Detail: e.Message, Errors: e.Fields, RequestID: RequestID(r.Context())}
	switch {
	case status == http.StatusInternalServerError:
		p.Detail, p.Errors = "", nil
		log.ErrorContext(r.Context(), "request failed", "request_id", p.RequestID, "error", e.Error())
	case status >= 500: // a known condition (an outage, a deadline): its message is safe, its cause is logged
		log.WarnContext(r.Context(), "request not served", "request_id", p.RequestID, "code", string(e.Code), "error", e.Error())
	case e.Code == service.CodeLogicFailed: // the spec's logic met records it cannot handle: the log names the expression
		log.WarnContext(r.Context(), "logic could not be computed", "request_id", p.RequestID, "error", e.Error())
	}
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
