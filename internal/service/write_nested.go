package service

import (
	"context"
	"errors"
	"strconv"

	"github.com/kiln-dev/kiln/internal/store"
)

// maxNested bounds the children one create may carry per nested relation.
const maxNested = 100

// takeNested takes the children of nested inverse relations out of a create's input.
func (w *write) takeNested(in map[string]any) (map[string][]map[string]any, map[string]any, fieldErrors) {
	var errs fieldErrors
	var children map[string][]map[string]any
	rest := in
	for _, f := range w.r.Fields {
		raw, given := in[f.Name]
		if !f.Nested || !given {
			continue
		}
		if children == nil {
			children, rest = map[string][]map[string]any{}, withoutKeys(in)
		}
		delete(rest, f.Name)
		list, ok := raw.([]any)
		if !ok || len(list) > maxNested {
			errs.add(f.Name, "type", "must be a list of at most %d %s records", maxNested, f.Relation.To)
			continue
		}
		for i, item := range list {
			obj, ok := item.(map[string]any)
			if !ok {
				errs.add(f.Name+"["+strconv.Itoa(i)+"]", "type", "must be an object")
				continue
			}
			children[f.Name] = append(children[f.Name], obj)
		}
	}
	return children, rest, errs
}

func withoutKeys(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// createChildren creates nested children after their parent, each through its own
// resource's pipeline, reporting every invalid child at once under its path.
func (w *write) createChildren(ctx context.Context, parent *store.Record, children map[string][]map[string]any) error {
	var all fieldErrors
	for _, f := range w.r.Fields {
		items := children[f.Name]
		if len(items) == 0 {
			continue
		}
		child := w.s.resources[f.Relation.To]
		for i, item := range items {
			path := w.path + f.Name + "[" + strconv.Itoa(i) + "]."
			back := f.Relation.Inverse
			if _, set := item[back]; set {
				all = append(all, FieldError{Field: path + back, Code: "readonly", Message: "is set by its parent"})
				continue
			}
			in := withoutKeys(item)
			in[back] = parent.ID
			cw := &write{s: w.s, tx: w.tx, r: child, inner: true, path: path, trust: map[string]bool{back: true}}
			_, err := cw.create(ctx, in, "", "")
			var e *Error
			if errors.As(err, &e) && e.Code == CodeValidation {
				all = append(all, e.Fields...)
				continue
			}
			var ce *store.ConstraintError
			if errors.As(err, &ce) {
				// A unique clash of this child (the same product twice in one order) is named
				// by the child's path, as its other errors are.
				return cw.prefix(w.s.constraintError(ce))
			}
			if err != nil {
				return err
			}
		}
	}
	return all.err(CodeValidation, "the request has invalid fields")
}
