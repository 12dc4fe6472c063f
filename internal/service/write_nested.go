package service

import (
	"context"
	"errors"
	"strconv"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
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
			if err != nil {
				return err
			}
		}
	}
	return all.err(CodeValidation, "the request has invalid fields")
}

// rollups recomputes the rollups of the parents rec points at (and pointed at before).
func (w *write) rollups(ctx context.Context, rec, old *store.Record) error {
	lr := w.s.logic.Resource(w.r.Name)
	if lr == nil {
		return nil
	}
	for _, rp := range lr.Parents {
		idx := w.r.index(rp.Field)
		ids := map[string]bool{}
		for _, x := range []*store.Record{rec, old} {
			if x != nil {
				if id, _ := x.Values[idx].(string); id != "" {
					ids[id] = true
				}
			}
		}
		for id := range ids {
			if err := w.refreshParent(ctx, rp.Parent.Name, rp.Field.Name, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// refreshParent sets the parent's rollup fields to their aggregates over its children. The
// parent row is locked first, so concurrent children of one parent add up one after another
// and each sum sees the children committed before it.
func (w *write) refreshParent(ctx context.Context, parentName, back, id string) error {
	if err := w.tx.LockRow(ctx, parentName, id); err != nil {
		return err
	}
	cur, err := w.tx.Get(ctx, parentName, id, nil)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the parent is being deleted with its children
	}
	if err != nil {
		return err
	}
	parent := w.s.resources[parentName]
	changed := false
	for i, f := range parent.Fields {
		if f.Rollup == nil || parent.Field(f.Rollup.Of).Relation.Inverse != back {
			continue
		}
		v, err := w.aggregate(ctx, parent, f, id)
		if err != nil {
			return err
		}
		if !sameValue(cur.Values[i], v) {
			cur.Values[i], changed = v, true
		}
	}
	if !changed {
		return nil
	}
	cur.UpdatedAt = w.s.nowUTC()
	return w.tx.Update(ctx, parentName, cur, cur.Version)
}

func (w *write) aggregate(ctx context.Context, parent *resource, f *spec.Field, id string) (any, error) {
	of := parent.Field(f.Rollup.Of)
	where := query.Compare{Field: of.Relation.Inverse, Op: query.Eq, Value: id}
	if f.Rollup.Func == "count" {
		n, err := w.tx.Count(ctx, of.Relation.To, where)
		return convertNumber(f, n), err
	}
	v, err := w.tx.Aggregate(ctx, of.Relation.To, f.Rollup.Func, f.Rollup.Field, where)
	if err != nil || v == nil {
		if f.Rollup.Func == "sum" && err == nil {
			return convertNumber(f, int64(0)), nil
		}
		return nil, err
	}
	return convertNumber(f, v), nil
}
