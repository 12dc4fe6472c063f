package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/idempotency"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// batchOp is one operation as sent: {"method": "POST", "path": "/api/orders", "body": {...}}.
type batchOp struct {
	method, path string
	body         map[string]any
}

// batch runs POST {base}/batch: up to server.batch_max writes in one transaction, all or
// nothing, with a result per operation. A later operation refers to an earlier result with
// {N.field} in its path and {"$ref": "N.field"} as a body value (N counts from 0).
func (h *Handler) batch(w http.ResponseWriter, r *http.Request) {
	in, err := decodeObject(r, h.maxBody)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	ops, err := h.batchOps(in)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	// Each operation costs a request of the rate limit, as it would alone (the request itself
	// paid for the first): a batch is not a way around the budget.
	for range len(ops) - 1 {
		if !h.limit(w, r, service.PrincipalFrom(r.Context()), false) {
			return
		}
	}
	refs := &batchRefs{h: h}
	done, err := h.svc.Batch(r.Context(), len(ops), func(i int, done []service.BatchResult) (service.BatchOp, error) {
		refs.done = done
		return h.resolveOp(ops[i], refs)
	}, h.rememberBatch(r))
	if err != nil {
		WriteError(w, r, h.log, batchProblem(err))
		return
	}
	writeJSON(w, http.StatusOK, h.batchBody(done))
}

// batchOps checks the request's shape: {"operations": [ {method, path, body?}, … ]}.
func (h *Handler) batchOps(in map[string]any) ([]batchOp, error) {
	var errs []service.FieldError
	for k := range in {
		if k != "operations" {
			errs = append(errs, service.FieldError{Field: k, Code: "unknown_field", Message: "is not accepted here"})
		}
	}
	raw, sent := in["operations"]
	list, ok := raw.([]any)
	switch {
	case !sent || raw == nil:
		errs = append(errs, service.FieldError{Field: "operations", Code: "required", Message: "is required (a list of operations)"})
	case !ok:
		errs = append(errs, service.FieldError{Field: "operations", Code: "type", Message: "must be a list of operations"})
	case len(list) == 0:
		errs = append(errs, service.FieldError{Field: "operations", Code: "min_items",
			Message: fmt.Sprintf("must hold 1 to %d operations (server.batch_max), not none", h.spec.Server.BatchMax)})
	case len(list) > h.spec.Server.BatchMax:
		errs = append(errs, service.FieldError{Field: "operations", Code: "max_items",
			Message: fmt.Sprintf("must hold 1 to %d operations (server.batch_max)", h.spec.Server.BatchMax)})
	}
	ops := make([]batchOp, 0, len(list))
	for i, raw := range list {
		op, problems := parseBatchOp(raw, "operations["+strconv.Itoa(i)+"]")
		errs = append(errs, problems...)
		ops = append(ops, op)
	}
	if len(errs) > 0 {
		return nil, &service.Error{Code: service.CodeValidation, Message: "the batch is not well formed", Fields: errs}
	}
	return ops, nil
}

func parseBatchOp(raw any, at string) (batchOp, []service.FieldError) {
	var errs []service.FieldError
	bad := func(f, code, msg string) {
		errs = append(errs, service.FieldError{Field: at + f, Code: code, Message: msg})
	}
	m, ok := raw.(map[string]any)
	if !ok {
		bad("", "type", "must be an object with method, path and body")
		return batchOp{}, errs
	}
	var op batchOp
	for k, v := range m {
		switch k {
		case "method":
			op.method, _ = v.(string)
		case "path":
			op.path, _ = v.(string)
		case "body":
			if op.body, ok = v.(map[string]any); !ok && v != nil {
				bad(".body", "type", "must be a JSON object")
			}
		default:
			bad("."+k, "unknown_field", "is not accepted here")
		}
	}
	if op.method != "POST" && op.method != "PATCH" && op.method != "DELETE" {
		bad(".method", "enum", "must be one of: POST, PATCH, DELETE")
	}
	if !strings.HasPrefix(op.path, "/") {
		bad(".path", "format", "must be an API path such as /api/orders or /api/orders/{0.id}")
	}
	return op, errs
}

// resolveOp turns a parsed operation into a service operation, filling in references.
func (h *Handler) resolveOp(op batchOp, refs *batchRefs) (service.BatchOp, error) {
	path, err := refs.path(op.path)
	if err != nil {
		return service.BatchOp{}, err
	}
	rest, ok := strings.CutPrefix(path, strings.TrimSuffix(h.spec.Server.BasePath, "/")+"/")
	parts := strings.Split(rest, "/")
	if err := h.checkOpPath(op, ok, parts); err != nil {
		return service.BatchOp{}, err
	}
	body, err := refs.value(op.body)
	if err != nil {
		return service.BatchOp{}, err
	}
	in, _ := body.(map[string]any)
	if in == nil && op.method != "DELETE" {
		in = map[string]any{}
	}
	out := service.BatchOp{Op: spec.OpCreate, Resource: parts[0], In: in}
	if len(parts) == 2 {
		out.ID, out.Op = parts[1], spec.OpUpdate
		if op.method == "DELETE" {
			out.Op = spec.OpDelete
		}
	}
	return out, nil
}

// checkOpPath refuses an operation whose path is not a create (POST /{resource}), an update
// or a delete (PATCH, DELETE /{resource}/{id}) of a resource: 404 when it names no resource,
// 400 when it names one the wrong way (an action, a nested route, a batch in the batch).
func (h *Handler) checkOpPath(op batchOp, underBase bool, parts []string) error {
	shape := "a batch holds creates (POST /{resource}), updates and deletes (PATCH, DELETE /{resource}/{id}); actions and other routes are sent on their own"
	switch {
	case underBase && parts[0] == "batch":
		return service.Errorf(service.CodeValidation, "%s %s: a batch cannot hold a batch", op.method, op.path)
	case !underBase || h.spec.Resource(parts[0]) == nil:
		return service.Errorf(service.CodeNotFound, "%s %s is not a create, update or delete of a resource", op.method, op.path)
	case len(parts) > 2 || (len(parts) == 1) != (op.method == "POST"):
		return service.Errorf(service.CodeValidation, "%s %s is not a create, update or delete of a resource: %s", op.method, op.path, shape)
	}
	return nil
}

// batchBody is {"results": [{"status", "resource", "record"}, …]}; a delete's result has
// the id instead of the record.
func (h *Handler) batchBody(done []service.BatchResult) []byte {
	var b bytes.Buffer
	b.WriteString(`{"results":[`)
	for i, d := range done {
		if i > 0 {
			b.WriteByte(',')
		}
		status := map[spec.Operation]int{spec.OpCreate: 201, spec.OpUpdate: 200, spec.OpDelete: 204}[d.Op]
		fmt.Fprintf(&b, `{"status":%d,"resource":%q,`, status, d.Resource)
		if d.Op == spec.OpDelete {
			fmt.Fprintf(&b, `"id":%q}`, d.Record.ID)
			continue
		}
		b.WriteString(`"record":`)
		h.encoders[d.Resource].record(&b, d.Record, view{spec: h.spec})
		b.WriteByte('}')
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

// rememberBatch stores the batch's answer with its writes when it has an Idempotency-Key.
func (h *Handler) rememberBatch(r *http.Request) func(context.Context, *store.Exec, []service.BatchResult) error {
	run, _ := r.Context().Value(idemKey{}).(*idemRun)
	if run == nil {
		return nil
	}
	return func(ctx context.Context, tx *store.Exec, done []service.BatchResult) error {
		tx.AfterCommit(func() { run.stored = true }) // a transaction run again must not count as stored
		return claimLost(h.idem.Finish(ctx, tx, run.claim, idempotency.Answer{Status: http.StatusOK,
			Headers: map[string]string{"Content-Type": "application/json"}, Body: h.batchBody(done)}))
	}
}

// batchProblem names the failing operation: its message says which, its field errors are
// prefixed with operations[N].body.
func batchProblem(err error) error {
	var be *service.BatchError
	if !errors.As(err, &be) {
		return err
	}
	e := service.AsError(be.Err)
	if Status(e.StatusCode()) >= 500 {
		return e
	}
	out := *e
	out.Message = fmt.Sprintf("operation %d: %s (nothing in the batch was written)", be.Index, e.Message)
	out.Fields = make([]service.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		f.Field = strings.TrimSuffix(fmt.Sprintf("operations[%d].body.%s", be.Index, f.Field), ".")
		out.Fields[i] = f
	}
	return &out
}

// batchRefs resolves references to earlier results.
type batchRefs struct {
	h    *Handler
	done []service.BatchResult
}

func (br *batchRefs) lookup(ref string) (any, error) {
	n, field, ok := strings.Cut(ref, ".")
	i, err := strconv.Atoi(n)
	if !ok || err != nil || i < 0 || i >= len(br.done) {
		return nil, service.Errorf(service.CodeValidation, "reference %q must name an earlier operation's result: N.field", ref)
	}
	d := br.done[i]
	if field == "id" {
		return d.Record.ID, nil
	}
	body, _ := br.h.render(d.Resource, d.Record)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	v, has := m[field]
	if !has {
		return nil, service.Errorf(service.CodeValidation, "reference %q: the result of operation %d has no field %s", ref, i, field)
	}
	return v, nil
}

// path replaces each {N.field} in p.
func (br *batchRefs) path(p string) (string, error) {
	var out strings.Builder
	for {
		start := strings.IndexByte(p, '{')
		if start < 0 {
			return out.String() + p, nil
		}
		end := strings.IndexByte(p[start:], '}')
		if end < 0 {
			return "", service.Errorf(service.CodeValidation, "path %q has an unclosed {", p)
		}
		v, err := br.lookup(p[start+1 : start+end])
		if err != nil {
			return "", err
		}
		out.WriteString(p[:start] + fmt.Sprint(v))
		p = p[start+end+1:]
	}
}

// value replaces {"$ref": "N.field"} objects anywhere in v.
func (br *batchRefs) value(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok && len(x) == 1 {
			return br.lookup(ref)
		}
		out := make(map[string]any, len(x))
		for k, item := range x {
			r, err := br.value(item)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			r, err := br.value(item)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}
