package kiln

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"time"

	"github.com/kiln-dev/kiln/internal/api/rest"
	"github.com/kiln-dev/kiln/internal/openapi"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Tx writes in the transaction of the action it was given to, on the action's authority
// (the resources' access rules do not apply; their validation, rules and logic do).
type Tx struct {
	svc *service.Service
	tx  *service.Tx
}

// Create creates a record from fields (as a request body would carry them).
func (t *Tx) Create(ctx context.Context, resource string, fields map[string]any) (*Record, error) {
	rec, err := t.tx.Create(ctx, resource, jsonFields(fields))
	return t.public(resource, rec, err)
}

// Update changes some fields of a record.
func (t *Tx) Update(ctx context.Context, resource, id string, fields map[string]any) (*Record, error) {
	rec, err := t.tx.Update(ctx, resource, id, jsonFields(fields))
	return t.public(resource, rec, err)
}

// Delete removes a record.
func (t *Tx) Delete(ctx context.Context, resource, id string) error {
	return t.tx.Delete(ctx, resource, id)
}

// Get reads a record, locked until the transaction ends (on PostgreSQL), so an Update
// computed from what it read cannot overwrite a concurrent action's write of it.
func (t *Tx) Get(ctx context.Context, resource, id string) (*Record, error) {
	rec, err := t.tx.Get(ctx, resource, id)
	return t.public(resource, rec, err)
}

func (t *Tx) public(resource string, rec *store.Record, err error) (*Record, error) {
	if err != nil {
		return nil, err
	}
	return publicRecord(t.svc, resource, rec), nil
}

// RouteCall is what a custom route gets: the principal (nil when anonymous) and the records,
// read and written as that principal (the spec's access rules apply).
type RouteCall struct {
	Principal *Principal
	Records   *Records
	log       *slog.Logger
}

// Error answers with err as a problem+json: Invalid, Conflict and NotFound keep their
// status and code, anything else is a 500 without details.
func (c RouteCall) Error(w http.ResponseWriter, r *http.Request, err error) {
	rest.WriteError(w, r, c.log, err)
}

// Records reads and writes records through the API's pipeline: as the request's principal
// in a custom route, or on Kiln's own authority in a job or schedule handler (Job.Records,
// ScheduleRun.Records: access rules do not apply; field rules, state machines, effects,
// events and triggers do, as for a schedule's update).
type Records struct {
	svc    *service.Service
	system bool
}

// as is ctx for the service: on Kiln's own authority when rs acts for a job.
func (rs *Records) as(ctx context.Context) context.Context {
	if rs.system {
		return service.AsSystem(ctx)
	}
	return ctx
}

// Get reads a record the principal may view (404 otherwise).
func (rs *Records) Get(ctx context.Context, resource, id string) (*Record, error) {
	rec, _, err := rs.svc.Get(rs.as(ctx), resource, id, nil)
	if err != nil {
		return nil, err
	}
	return publicRecord(rs.svc, resource, rec), nil
}

// Create creates a record as the principal.
func (rs *Records) Create(ctx context.Context, resource string, fields map[string]any) (*Record, error) {
	rec, err := rs.svc.Create(rs.as(ctx), resource, jsonFields(fields), service.WriteOpts{})
	if err != nil {
		return nil, err
	}
	return publicRecord(rs.svc, resource, rec), nil
}

func publicRecord(svc *service.Service, resource string, rec *store.Record) *Record {
	return &Record{Resource: resource, ID: rec.ID, Version: rec.Version, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
		Fields: svc.PublicFields(resource, rec)}
}

func jsonFields(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = service.JSONForm(v)
	}
	return out
}

// hooks adapts Extensions to the service's Hooks.
type hooks struct {
	x   *Extensions
	svc func() *service.Service
	log *slog.Logger
}

// HasBefore reports whether a before-hook is registered for op on resource.
func (h hooks) HasBefore(resource string, op spec.Operation) bool {
	return len(h.x.before[resource+"/"+string(op)]) > 0
}

func (h hooks) Before(ctx context.Context, resource string, op spec.Operation, rec *store.Record) error {
	fns := h.x.before[resource+"/"+string(op)]
	if len(fns) == 0 {
		return nil
	}
	svc := h.svc()
	pub := publicRecord(svc, resource, rec)
	was := maps.Clone(pub.Fields)
	for _, fn := range fns {
		if err := fn(ctx, Operation(op), pub); err != nil {
			return err
		}
	}
	changed := map[string]any{}
	for k, v := range pub.Fields {
		if old, ok := was[k]; !ok || !reflect.DeepEqual(old, v) {
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return svc.SetFields(resource, rec, changed)
}

func (h hooks) After(ctx context.Context, resource string, op spec.Operation, rec *store.Record) {
	fns := h.x.after[resource+"/"+string(op)]
	if len(fns) == 0 {
		return
	}
	pub := publicRecord(h.svc(), resource, rec)
	for _, fn := range fns {
		h.runAfter(ctx, fn, resource, op, pub)
	}
}

// afterHookTimeout bounds each after-hook's context, which the request's end does not cancel.
const afterHookTimeout = 30 * time.Second

// runAfter runs one after-hook. Its panic is logged, not answered: the write committed, and a
// 500 for it would tell the client it failed (one retried without an idempotency key writes
// it twice; one with a key was answered 500, then 201 on the retry). The next hooks still run.
// Its context keeps the request's values but not its cancellation or deadline: a client going
// away, or the query deadline, cancelled it after the commit (the notification was lost).
func (h hooks) runAfter(ctx context.Context, fn AfterHook, resource string, op spec.Operation, pub *Record) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), afterHookTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil && h.log != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "an after-hook panicked; the write had committed",
				slog.String("request_id", rest.RequestID(ctx)), slog.String("resource", resource),
				slog.String("operation", string(op)), slog.String("error", fmt.Sprintf("panic: %v", p)))
		}
	}()
	fn(ctx, Operation(op), pub)
}

// extend registers x's actions and checks that every go: true action has one.
func (a *App) extend(x *Extensions) error {
	for _, r := range a.Spec.Resources {
		for _, act := range r.Actions {
			fn := x.actionFor(r.Name, act.Name)
			if act.Go && fn == nil {
				return fmt.Errorf("action %s of %s is declared go: true: register it with Extensions.Action(%q, %q, fn)", act.Name, r.Name, r.Name, act.Name)
			}
			if fn == nil {
				continue
			}
			if !act.Go {
				return fmt.Errorf("action %s of %s has a Go function but is not declared go: true in the spec", act.Name, r.Name)
			}
			a.Service.RegisterAction(r.Name, act.Name, a.goAction(fn))
		}
	}
	if x == nil {
		return nil
	}
	for key := range x.actions {
		if !a.hasAction(key) {
			return fmt.Errorf("Extensions.Action: the spec declares no action %s", key)
		}
	}
	return nil
}

func (x *Extensions) actionFor(resource, name string) ActionFunc {
	if x == nil {
		return nil
	}
	return x.actions[resource+"/"+name]
}

func (a *App) hasAction(key string) bool {
	for _, r := range a.Spec.Resources {
		for _, act := range r.Actions {
			if r.Name+"/"+act.Name == key {
				return true
			}
		}
	}
	return false
}

func (a *App) goAction(fn ActionFunc) service.GoAction {
	return func(ctx context.Context, call service.ActionCall) (string, error) {
		return fn(ctx, ActionCall{Resource: call.Resource, Record: publicRecord(a.Service, call.Resource, call.Record),
			Input: call.Input, Tx: &Tx{svc: a.Service, tx: call.Tx}})
	}
}

// routeDocs are x's routes as the OpenAPI document lists them.
func routeDocs(x *Extensions) []openapi.Route {
	if x == nil {
		return nil
	}
	out := make([]openapi.Route, 0, len(x.routes))
	for _, rt := range x.routes {
		d := openapi.Route{Pattern: rt.pattern, Summary: rt.doc.Summary, Description: rt.doc.Description, Status: rt.doc.Status}
		if rt.doc.Request != nil {
			d.Request = openapi.SchemaOf(reflect.TypeOf(rt.doc.Request))
		}
		if rt.doc.Response != nil {
			d.Response = openapi.SchemaOf(reflect.TypeOf(rt.doc.Response))
		}
		out = append(out, d)
	}
	return out
}

// routes are x's routes for the REST transport.
func (a *App) routes(x *Extensions, log *slog.Logger) []rest.Route {
	if x == nil {
		return nil
	}
	out := make([]rest.Route, 0, len(x.routes))
	for _, rt := range x.routes {
		fn := rt.fn
		out = append(out, rest.Route{Pattern: rt.pattern, Handler: func(w http.ResponseWriter, r *http.Request) {
			fn(&routeWriter{ResponseWriter: w, r: r, log: log}, r,
				RouteCall{Principal: PrincipalFrom(r.Context()), Records: &Records{svc: a.Service}, log: log})
		}})
	}
	return out
}

// routeWriter is a custom route's ResponseWriter: WriteJSON finds the request and the logger
// through it, to answer and log its failures as other internal errors are. Unwrap keeps
// http.ResponseController reaching the connection (Flush, deadlines).
type routeWriter struct {
	http.ResponseWriter
	r   *http.Request
	log *slog.Logger
}

func (w *routeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeInternal answers err as the internal problem; logged when w is a custom route's (a
// WriteJSON outside one, as in an httptest recorder, only returns it).
func writeInternal(w http.ResponseWriter, err error) {
	ie := &service.Error{Code: service.CodeInternal, Message: "internal error", Cause: err}
	if rw, ok := w.(*routeWriter); ok {
		rest.WriteError(rw.ResponseWriter, rw.r, rw.log, ie)
		return
	}
	r := (&http.Request{}).WithContext(rest.WithRequestID(context.Background(), w.Header().Get("X-Request-Id")))
	rest.WriteError(w, r, slog.New(slog.DiscardHandler), ie)
}
