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
			}
			children[f.Name] = append(children[f.Name], obj) // nil for one that is not: each keeps its index
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

// eachChild calls fn for each nested child that is an object, in field and list order, with
// its resource, the relation's field on it that points back, and its path (items[1].); an
// error of fn ends the walk.
func (w *write) eachChild(children map[string][]map[string]any, fn func(child *resource, back, path string, item map[string]any) error) error {
	for _, f := range w.r.Fields {
		for i, item := range children[f.Name] {
			if item == nil {
				continue // not an object: refused before any write (takeNested)
			}
			path := w.path + f.Name + "[" + strconv.Itoa(i) + "]."
			if err := fn(w.s.resources[f.Relation.To], f.Relation.Inverse, path, item); err != nil {
				return err
			}
		}
	}
	return nil
}

// createChildren creates nested children after their parent, each through its own
// resource's pipeline, reporting every invalid child at once under its path.
func (w *write) createChildren(ctx context.Context, parent *store.Record, children map[string][]map[string]any) error {
	var all fieldErrors
	err := w.eachChild(children, func(child *resource, back, path string, item map[string]any) error {
		if _, set := item[back]; set {
			all = append(all, FieldError{Field: path + back, Code: "readonly", Message: "is set by its parent"})
			return nil
		}
		in := withoutKeys(item)
		in[back] = parent.ID
		cw := &write{s: w.s, tx: w.tx, r: child, inner: true, path: path, trust: map[string]bool{back: true}}
		_, err := cw.create(ctx, in, "", "")
		var e *Error
		if errors.As(err, &e) && e.Code == CodeValidation {
			all = append(all, e.Fields...)
			return nil
		}
		var ce *store.ConstraintError
		if !errors.As(err, &e) && errors.As(err, &ce) && ce.Kind == store.ConstraintUnique && ce.Table == child.Name {
			// A unique clash of this child's own row (the same product twice in one order) is
			// named by the child's path, as its other errors are, once the transaction is over
			// (writeError): by then the store has said which of the child's unique indexes
			// the row clashes with, alike on every dialect. One a deeper child already named
			// passes as it is.
			return &childClash{path: cw.path, ce: ce}
		}
		return err
	})
	if err != nil {
		return err
	}
	return all.err(CodeValidation, "the request has invalid fields")
}

// childrenErrors adds the problems each nested child shows on its own — unknown fields, wrong
// types, values out of bounds, fields it may not write or set by its parent — under its path,
// for a create whose parent is refused already (so its children are never written): one
// answer names them with the parent's. parentID is the id the parent would have had.
func (w *write) childrenErrors(ctx context.Context, parentID string, children map[string][]map[string]any, errs *fieldErrors) {
	_ = w.eachChild(children, func(child *resource, back, path string, item map[string]any) error {
		var cerrs fieldErrors
		in := withoutKeys(item)
		if _, set := in[back]; set {
			cerrs.add(back, "readonly", "is set by its parent")
		}
		delete(in, back)
		w.s.checkWriteRoles(ctx, child, in, &cerrs)
		in[back] = parentID
		child.apply(&store.Record{Values: make([]any, len(child.Fields))}, in, &cerrs)
		for _, e := range cerrs {
			e.Field = path + e.Field
			*errs = append(*errs, e)
		}
		return nil
	})
}

// childClash is a unique clash of a nested child's own row, named under the child's path by
// writeError. It unwraps to the store's error, which the store completes (explainClash)
// before the transaction's caller sees it.
type childClash struct {
	path string
	ce   *store.ConstraintError
}

func (c *childClash) Error() string { return c.ce.Error() }
func (c *childClash) Unwrap() error { return c.ce }

// named is the clash as the client sees it: the conflict, its fields under the child's path.
func (c *childClash) named(s *Service) error {
	return (&write{path: c.path}).prefix(s.constraintError(c.ce))
}
