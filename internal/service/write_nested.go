package service

import (
	"context"
	"errors"
	"strconv"
	"strings"

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
	if err := w.lockChildren(ctx, children); err != nil {
		return err
	}
	var all fieldErrors
	err := w.eachChild(children, func(child *resource, back, path string, item map[string]any) error {
		if _, set := item[back]; set {
			// never written: named with what else the child shows on its own, as at the top
			all = append(all, w.childErrors(ctx, child, back, path, item, parent.ID)...)
			return nil
		}
		if err := w.s.keyCovers(ctx, child, spec.ActionCreate); err != nil {
			return err
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
			// named by the child's path, as its other errors are (nameClash names its fields
			// again once the transaction is over); one a deeper child already named (an
			// *Error) passes as it is.
			return cw.prefix(w.s.constraintError(ce))
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
		*errs = append(*errs, w.childErrors(ctx, child, back, path, item, parentID)...)
		return nil
	})
}

// childErrors are the problems a nested child shows on its own, under its path: the relation
// back to its parent when it sets it, unknown fields, wrong types, values out of bounds and
// fields it may not write; its own nested children are no fields of its row, and are named
// under their paths with what they show on their own.
func (w *write) childErrors(ctx context.Context, child *resource, back, path string, item map[string]any, parentID string) []FieldError {
	var cerrs fieldErrors
	in := withoutKeys(item)
	if _, set := in[back]; set {
		cerrs.add(back, "readonly", "is set by its parent")
	}
	delete(in, back)
	w.s.checkWriteRoles(ctx, child, in, &cerrs) // nested fields' write roles too, before they are taken out
	cw := &write{s: w.s, tx: w.tx, r: child, path: path}
	grand, in, nerrs := cw.takeNested(in)
	cerrs = append(cerrs, nerrs...)
	in[back] = parentID
	child.apply(&store.Record{Values: make([]any, len(child.Fields))}, in, &cerrs)
	out := make([]FieldError, 0, len(cerrs))
	for _, e := range cerrs {
		e.Field = path + e.Field
		out = append(out, e)
	}
	var deeper fieldErrors
	cw.childrenErrors(ctx, w.s.newID(), grand, &deeper) // already under their whole paths
	return append(out, deeper...)
}

// uniqueClash is the store's unique clash a conflict names, and the path of the nested child
// whose row clashed ("" for the record itself).
type uniqueClash struct {
	ce   *store.ConstraintError
	path string
}

// fields are the clash's field errors: each column the store names, under the path.
func (c *uniqueClash) fields(s *Service) []FieldError {
	var out []FieldError
	for _, col := range c.ce.Columns {
		name := s.store.FieldForColumn(c.ce.Table, col)
		out = append(out, FieldError{Field: strings.TrimSuffix(c.path+name, "."), Code: "unique", Message: "is already taken"})
	}
	return out
}

// nameClash names a unique conflict's fields again from the store's clash, which the store
// completes once the transaction is over (explainClash: every unique index the record clashes
// with, alike on each dialect); an error answered inside the transaction (a batch's
// operation, a nested child's row) was named from the one index the database checked first.
// Call it after the transaction, on the error it returned; other errors are left alone.
func (s *Service) nameClash(err error) {
	var e *Error
	if errors.As(err, &e) && e.clash != nil && len(e.clash.ce.Columns) > 0 {
		e.Fields = e.clash.fields(s)
	}
}
