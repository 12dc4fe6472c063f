package kiln

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/service"
)

// Operation is the kind of write a hook runs for.
type Operation string

// Operations.
const (
	Create Operation = "create"
	Update Operation = "update"
	Delete Operation = "delete"
)

// Record is a record as Go code sees it. Fields hold plain Go values: string, int64,
// float64, bool, time.Time, []string (ids of a to-many relation), json.Number (decimals) and
// nil (no value). A before-hook may change Fields: the changes are validated like a
// request body.
type Record struct {
	Resource  string
	ID        string
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
	Fields    map[string]any
}

// FieldError names a field and why its value is refused.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

// Invalid refuses a write with field errors: a 400 validation_failed naming each field.
func Invalid(errs ...FieldError) error {
	fields := make([]service.FieldError, len(errs))
	for i, e := range errs {
		fields[i] = service.FieldError{Field: e.Field, Code: e.Code, Message: e.Message}
	}
	return &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields", Fields: fields}
}

// Conflict refuses a write because of stored state: a 409 with code (a stable error code of
// your own, such as out_of_hours; "" is conflict) and message.
func Conflict(code, message string) error {
	if code == "" {
		code = string(service.CodeConflict)
	}
	return &service.Error{Code: service.Code(code), Class: service.CodeConflict, Message: message}
}

// ErrorCode is the stable code the API would answer err with — validation_failed, not_found,
// forbidden, a Conflict's own code… (docs/api.md lists them) — so Go code calling Records can
// tell a refused write from a failure; "" when err is none of Kiln's answers (a database
// failure, your own error).
func ErrorCode(err error) string {
	var e *service.Error
	if errors.As(err, &e) {
		return string(e.Code)
	}
	return ""
}

// NotFound answers 404 (for custom routes).
func NotFound(message string) error {
	return service.Errorf(service.CodeNotFound, "%s", message)
}

// Principal is who makes a request: an account (ID set) or an API key (KeyID set, with the
// key's Scopes).
type Principal struct {
	ID     string
	Role   string
	KeyID  string
	Scopes []string // an API key's scopes (resource:action, resource:read|write|*); nil for an account
}

// Allows reports whether the principal's credential covers action (list, view, create,
// update, delete, or a record action's name; a record action named like an operation as
// action:view) on resource: always for an account, which its
// role and the access rules limit; for an API key, when one of its scopes does. A custom
// route doing work of its own (not through call.Records, which checks it already) asks it as
// the resources' routes do: an out-of-scope key gets 403.
func (p *Principal) Allows(resource, action string) bool {
	if p == nil || p.KeyID == "" {
		return p != nil
	}
	if !strings.HasPrefix(action, "action:") && !slices.Contains([]string{"list", "view", "create", "update", "delete"}, action) {
		action = "action:" + action
	}
	return service.ScopeAllows(p.Scopes, resource, action)
}

// PrincipalFrom returns the request's principal — the caller, in hooks, Go actions and
// custom routes — or nil for an anonymous request.
func PrincipalFrom(ctx context.Context) *Principal {
	p := service.PrincipalFrom(ctx)
	if p == nil {
		return nil
	}
	return &Principal{ID: p.ID, Role: p.Role, KeyID: p.KeyID, Scopes: slices.Clone(p.Scopes)}
}

// BeforeHook runs inside a write's transaction after the spec's rules, just before the row
// is written; PrincipalFrom(ctx) is the caller (nil when anonymous). It may change rec.Fields or refuse the write (Invalid, Conflict); any other
// error fails the request as an internal error. It may run more than once for one request:
// when the database rolls the transaction back for a reason of its own (a serialization
// failure on PostgreSQL, a shared SQLite transaction lost to an I/O error), or when on
// PostgreSQL an update's record changed between its read and its write (an update that writes
// only its row reads it without a lock, and writes it only where its version is unchanged),
// the write runs again from the start; keep side effects outside the transaction to an AfterHook.
// On SQLite it holds the database's single writer while it runs: keep it fast (a slow one
// delays every other write) and leave slow work to an AfterHook or a job.
type BeforeHook func(ctx context.Context, op Operation, rec *Record) error

// AfterHook runs once a write committed; it cannot undo it. For a delete, rec is the
// record as it was. The answer waits for it, so keep it short and leave slow work to a job
// (a trigger with handler:). Its ctx keeps the request's values (PrincipalFrom) but is not
// cancelled by the client going away or by the request's deadline: it has 30 seconds of its
// own. A panic is logged and the answer is still the write's.
type AfterHook func(ctx context.Context, op Operation, rec *Record)

// ActionCall is what a Go action receives: the record it runs on, its input (validated
// against the action's input fields) and a transaction to write in.
type ActionCall struct {
	Resource string
	Record   *Record
	Input    map[string]any
	Tx       *Tx
}

// ActionFunc implements an action declared with go: true. It returns the id of the record
// to answer with ("" for the action's own record, read again after the action). Like a
// BeforeHook it may run more than once for one request (the transaction runs again when the
// database rolled it back): write through call.Tx, and leave effects outside it to jobs.
type ActionFunc func(ctx context.Context, call ActionCall) (string, error)

// RouteFunc serves a custom route. The request went through Kiln's authentication,
// rate limits and middleware; call carries the principal and records to work with.
type RouteFunc func(w http.ResponseWriter, r *http.Request, call RouteCall)

// Extensions are what a Go program adds to the spec: hooks, Go actions, job handlers and routes. Give
// them to New through Config.Extensions.
type Extensions struct {
	before  map[string][]BeforeHook // "resource/op"
	after   map[string][]AfterHook
	actions map[string]ActionFunc  // "resource/action"
	jobs    map[string]JobFunc     // trigger handlers by name
	hooks   map[string]WebhookFunc // incoming webhook handlers by name
	// schedules are schedule handlers by name.
	schedules map[string]ScheduleFunc
	routes    []routeDef
}

type routeDef struct {
	pattern string
	fn      RouteFunc
	doc     RouteDoc
}

// RouteDoc describes a custom route in the OpenAPI document (GET {base}/openapi.json and the
// docs page), where every route is listed: Summary and Description in words, Request and
// Response a value of the Go type its JSON body decodes into and its answer encodes from
// (its JSON Schema is derived from the type: struct fields by their json tags, pointers
// nullable; the value itself is not read), Status the success status (default 200).
type RouteDoc struct {
	Summary, Description string
	Request, Response    any
	Status               int
}

// Before adds a before-hook for op on resource.
func (x *Extensions) Before(resource string, op Operation, fn BeforeHook) {
	if x.before == nil {
		x.before = map[string][]BeforeHook{}
	}
	x.before[resource+"/"+string(op)] = append(x.before[resource+"/"+string(op)], fn)
}

// After adds an after-commit hook for op on resource.
func (x *Extensions) After(resource string, op Operation, fn AfterHook) {
	if x.after == nil {
		x.after = map[string][]AfterHook{}
	}
	x.after[resource+"/"+string(op)] = append(x.after[resource+"/"+string(op)], fn)
}

// Action implements the action name of resource, declared in the spec with go: true.
func (x *Extensions) Action(resource, name string, fn ActionFunc) {
	if x.actions == nil {
		x.actions = map[string]ActionFunc{}
	}
	x.actions[resource+"/"+name] = fn
}

// Handle adds a route: pattern is a net/http ServeMux pattern such as
// "GET /api/reports/sales" (it must not clash with the spec's routes). The OpenAPI document
// lists it, described by doc when given (the first; a pattern without a method is listed
// under each method it answers).
func (x *Extensions) Handle(pattern string, fn RouteFunc, doc ...RouteDoc) {
	d := RouteDoc{}
	if len(doc) > 0 {
		d = doc[0]
	}
	x.routes = append(x.routes, routeDef{pattern: pattern, fn: fn, doc: d})
}

// WriteJSON answers with status and v as JSON. v is encoded before anything is sent: a value
// JSON cannot encode (a channel, a func, a NaN), or a status that is not a final HTTP status
// (200–599), is a programming error, answered as the API answers any internal error (500, the
// internal problem with the request id, nothing of the cause) and logged with the cause in a
// custom route; the error is returned. The error of writing the body (the client went away)
// is returned too.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	var body bytes.Buffer
	err := json.NewEncoder(&body).Encode(v)
	if err == nil && (status < 200 || status > 599) {
		err = fmt.Errorf("status %d is not a final HTTP status (200-599)", status)
	}
	if err != nil {
		err = fmt.Errorf("kiln.WriteJSON: %w", err)
		writeInternal(w, err)
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(body.Bytes())
	return err
}
