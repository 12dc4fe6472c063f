package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// rollupSQL prepares, for each parent that keeps rollups over child (by the child's relation
// field), the aggregates one UPDATE can set straight from SQL: every rollup field of the
// parent is stored like what it aggregates (a count into an integer; a sum, min or max into a
// field of the children's type and scale, without min or max). A parent with any other
// rollup, or one counting only the children a where: admits, is refreshed through Go conversion
// instead. A decimal's precision bounds its UPDATE.
func rollupSQL(child *spec.Resource, lr *logic.Resource) map[string][]store.RollupAgg {
	if lr == nil || len(lr.Parents) == 0 {
		return nil
	}
	out := map[string][]store.RollupAgg{}
	for _, rp := range lr.Parents {
		aggs := make([]store.RollupAgg, 0, len(rp.Rollups))
		for _, f := range rp.Rollups {
			if !storedAlike(f, child) || f.Rollup.Where.Set() {
				aggs = nil
				break
			}
			aggs = append(aggs, store.RollupAgg{Field: f.Name, Func: f.Rollup.Func, ChildField: f.Rollup.Field,
				Empty: rollupEmpty(f), Max: rollupMax(f)})
		}
		if aggs != nil {
			out[rp.Field.Name] = aggs
		}
	}
	return out
}

func storedAlike(f *spec.Field, child *spec.Resource) bool {
	if f.Min != nil || f.Max != nil {
		return false // Go checks the aggregate against them
	}
	if f.Rollup.Func == "count" {
		return f.Type == spec.TypeInteger
	}
	cf := child.Field(f.Rollup.Field)
	return cf != nil && cf.Type == f.Type && cf.Scale == f.Scale && cf.Relation == nil
}

// rollups refreshes the rollups of the parents rec points at (and old pointed at before).
// An update that changes neither a child's parent nor what its parents aggregate leaves them.
func (w *write) rollups(ctx context.Context, rec, old *store.Record) error {
	lr := w.s.logic.Resource(w.r.Name)
	if lr == nil {
		return nil
	}
	for _, rp := range lr.Parents {
		if rec != nil && old != nil && !w.rollupInputsChanged(rp, rec, old) {
			continue
		}
		idx := w.r.index(rp.Field)
		var ids []string // in order, so two writes moving children both ways lock alike
		for _, x := range []*store.Record{rec, old} {
			if x != nil {
				if id, _ := x.Values[idx].(string); id != "" && !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			if err := w.refreshParent(ctx, rp, id); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *write) rollupInputsChanged(rp *logic.RollupParent, rec, old *store.Record) bool {
	idx := w.r.index(rp.Field)
	if !sameValue(rec.Values[idx], old.Values[idx]) {
		return true
	}
	if len(rp.Where) > 0 {
		return !slices.EqualFunc(rec.Values, old.Values, sameValue) // what a where: reads may have changed
	}
	for _, f := range rp.Rollups {
		if f.Rollup.Field == "" {
			continue // a count changes only with the parent
		}
		i := w.r.index(w.r.Field(f.Rollup.Field))
		if !sameValue(rec.Values[i], old.Values[i]) {
			return true
		}
	}
	return false
}

// refreshParent sets the parent's rollup fields to their aggregates over its children. The
// parent row is locked first, so concurrent children of one parent add up one after another
// and each aggregate sees the children committed before it. Where the stored types allow it,
// one UPDATE computes and writes them; otherwise the parent is read, the aggregates converted
// to the fields' types and the parent written back.
func (w *write) refreshParent(ctx context.Context, rp *logic.RollupParent, id string) error {
	if err := w.tx.LockRow(ctx, rp.Parent.Name, id); err != nil {
		return err
	}
	parent := w.s.resources[rp.Parent.Name]
	computed := parent.computesFromRollups
	if aggs := w.r.rollupSQL[rp.Field.Name]; aggs != nil && !computed {
		changed, err := w.tx.RefreshRollups(ctx, rp.Parent.Name, id, w.r.Name, rp.Field.Name, aggs, w.s.nowUTC())
		if err != nil || changed {
			return err
		}
		return w.rollupsFit(ctx, parent, id, aggs)
	}
	cur, err := w.tx.Get(ctx, rp.Parent.Name, id, nil)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the parent is being deleted with its children
	}
	if err != nil {
		return err
	}
	changed := false
	for _, f := range rp.Rollups {
		v, err := w.aggregate(ctx, parent, f, id, rp.Where[f.Name])
		if err != nil {
			return rollupTooLarge(parent, f, err)
		}
		if err := rollupFits(parent, f, v); err != nil {
			return err
		}
		if i := parent.index(f); !sameValue(cur.Values[i], v) {
			cur.Values[i], changed = v, true
		}
	}
	if !changed {
		return nil
	}
	if computed {
		if err := w.recompute(ctx, parent, cur); err != nil {
			return err
		}
	}
	cur.UpdatedAt = w.s.nowUTC()
	return w.tx.Update(ctx, rp.Parent.Name, cur, cur.Version)
}

// computesFromRollups reports whether a computed field of r reads one of its rollups: such a
// parent is refreshed through Go, its computed fields computed again with the new rollups
// (they went stale: an order's total_with_tax kept the total of its creation).
func computesFromRollups(r *spec.Resource, lr *logic.Resource) bool {
	if lr == nil {
		return false
	}
	for _, f := range r.Fields {
		if f.Rollup != nil && lr.ComputesFrom(f.Name) {
			return true
		}
	}
	return false
}

// recompute sets the computed fields of the parent rec (of r) that read its rollups from its
// values, checked against their fields as an effect's values are (409 logic_failed when one
// does not fit); the others are the parent's own writes' (a field computed from auth.role
// was computed again for the child's writer, and failed for an anonymous one).
func (w *write) recompute(ctx context.Context, r *resource, rec *store.Record) error {
	vars := w.s.logicVars(AsSystem(ctx), r, rec, nil, string(spec.OpUpdate))
	var rollups []string
	for _, f := range r.Fields {
		if f.Rollup != nil {
			rollups = append(rollups, f.Name)
		}
	}
	vals, err := w.s.logic.Resource(r.Name).ComputeFrom(ctx, &txReader{s: w.s, tx: w.tx}, vars, rollups)
	if err != nil {
		return (&write{s: w.s, r: r}).logicError(err)
	}
	return fromRollup(r, (&write{s: w.s, tx: w.tx, r: r, typed: vals}).applyTyped(rec))
}

// fromRollup says of a computed field of parent that does not fit (applyTyped's 409) that its
// value was computed from a rollup this write changed, and names it as the parent's field
// (invoices.total), as rollupRefused names a rollup: the request set neither.
func fromRollup(parent *resource, err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeLogicFailed {
		return err
	}
	out := *e
	out.Message = "a value computed from a total this write keeps (a rollup) does not fit its field; nothing was written"
	out.Fields = make([]FieldError, len(e.Fields))
	for i, f := range e.Fields {
		f.Field, f.Message = parent.Name+"."+f.Field, f.Message+" (computed from a rollup)"
		out.Fields[i] = f
	}
	return &out
}

// aggregate is f's aggregate over parent id's children, those that meet only (its where:, or
// nil) alone.
func (w *write) aggregate(ctx context.Context, parent *resource, f *spec.Field, id string, only query.Cond) (any, error) {
	of := parent.Field(f.Rollup.Of)
	var where query.Cond = query.Compare{Field: of.Relation.Inverse, Op: query.Eq, Value: id}
	if only != nil {
		where = query.And{where, only}
	}
	if f.Rollup.Func == "count" {
		n, err := w.tx.Count(ctx, of.Relation.To, where)
		if empty := rollupEmpty(f); n == 0 && empty != nil {
			return empty, err
		}
		return convertNumber(f, n), err
	}
	v, err := w.tx.Aggregate(ctx, of.Relation.To, f.Rollup.Func, f.Rollup.Field, where)
	if err != nil || v == nil {
		if empty := rollupEmpty(f); empty != nil && err == nil {
			return empty, nil
		}
		if f.Rollup.Func == "sum" && err == nil {
			return convertNumber(f, int64(0)), nil
		}
		return nil, err
	}
	return convertNumber(f, v), nil
}

// rollupEmpty is a rollup field's value over no children: its default, which a new parent
// starts with (nil without one: a sum is then 0, a min or max null). A min or max went from
// its default 0 on a new parent to null once its last child was deleted.
func rollupEmpty(f *spec.Field) any {
	text, ok := f.Default.(string)
	if !f.HasDefault || !ok {
		return nil
	}
	v, _, _ := coerce(f, json.Number(text))
	return v
}

// rollupMax is the largest magnitude a decimal rollup field holds (nil for other types): its
// precision's digits, at its scale.
func rollupMax(f *spec.Field) any {
	if f.Type != spec.TypeDecimal {
		return nil
	}
	return value.FromUnits(value.Pow10(f.Precision)-1, f.Scale)
}

// rollupsFit tells, after RefreshRollups wrote nothing, an aggregate beyond its field's
// precision (which the statement does not write) from one that did not change: the bounded
// aggregates are computed again, as Go refreshes them.
func (w *write) rollupsFit(ctx context.Context, parent *resource, id string, aggs []store.RollupAgg) error {
	for _, a := range aggs {
		if a.Max == nil {
			continue
		}
		f := parent.Field(a.Field)
		v, err := w.aggregate(ctx, parent, f, id, nil) // a rollup with a where is not refreshed in SQL
		if err != nil {
			return rollupTooLarge(parent, f, err)
		}
		if err := rollupFits(parent, f, v); err != nil {
			return err
		}
	}
	return nil
}

// rollupFits refuses an aggregate its field cannot hold (a sum past its precision or max) as
// an effect's refused value is: no fault of the request, the stored children do not allow the
// write, so 409 logic_failed naming the parent's field and the constraint, nothing written.
func rollupFits(parent *resource, f *spec.Field, v any) error {
	if v == nil {
		return nil
	}
	code, msg := parent.rules[parent.index(f)].check(f, v)
	if code == "" {
		return nil
	}
	return rollupRefused(parent, f, code, msg, v)
}

// rollupTooLarge is rollupFits for an aggregate the database computed with more digits than
// any decimal holds (PostgreSQL's SUM of decimal(18,2) values; value.ErrPrecision as it is read).
func rollupTooLarge(parent *resource, f *spec.Field, err error) error {
	if !errors.Is(err, value.ErrPrecision) {
		return err
	}
	return rollupRefused(parent, f, "precision", "must have at most "+digits(f.Precision-f.Scale)+" before the decimal point", "beyond 18 digits")
}

func rollupRefused(parent *resource, f *spec.Field, code, msg string, v any) error {
	var shown []FieldError
	if !f.Hidden { // a hidden field is named in the log only
		shown = []FieldError{{Field: parent.Name + "." + f.Name, Code: code, Message: msg + " (a rollup)"}}
	}
	return &Error{Code: CodeLogicFailed, Class: CodeConflict, Fields: shown,
		Message: "a total this write keeps (a rollup) does not fit its field; nothing was written",
		Cause:   fmt.Errorf("%s refuses rollup %s %s (%s): %v", parent.Name, f.Name, code, msg, v)}
}
