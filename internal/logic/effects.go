package logic

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// effect changes another record when its resource is written.
type effect struct {
	spec   *spec.Effect
	target *spec.Resource
	child  *spec.Resource // the resource of item, with each:
	when   *program
	id     *program
	set    []*assign
}

func (c *compiler) effect(r *spec.Resource, ef *spec.Effect) *effect {
	out := &effect{spec: ef, target: c.spec.Resource(ef.Update)}
	if out.target == nil {
		return nil
	}
	sc := scope{resource: r.Name}
	if ef.Each != "" {
		if f := r.Field(ef.Each); f != nil && f.Relation != nil {
			out.child = c.spec.Resource(f.Relation.To)
			sc.item = f.Relation.To
		}
	}
	what := "effect " + ef.Name
	out.when = c.program(sc, ef.When, cel.BoolType, what+" when")
	out.id = c.program(sc, ef.ID, cel.StringType, what+" id")
	tsc := sc
	tsc.target = out.target.Name
	out.set = c.assignments(tsc, out.target, ef.Set, what+" set")
	return out
}

// Write is one change of another record that logic asks for, applied by the caller through
// the write pipeline in the same transaction.
type Write struct {
	Resource string
	ID       string
	Values   map[string]any
	// Source names what asked for it, for errors: "effect take_stock".
	Source string
}

// Children reads the records of an inverse relation of the record being written. With lock, it
// first locks them until the transaction ends where the store locks rows, and reports whether
// it did; where it does not (SQLite's single writer), it reads nothing and reports false.
type Children func(ctx context.Context, field string, lock bool) ([]*Record, bool, error)

// HasEffects reports whether any effect applies to op.
func (r *Resource) HasEffects(op spec.Operation) bool {
	for _, ef := range r.effects {
		if spec.Applies(ef.spec.On, op) {
			return true
		}
	}
	return false
}

// Effects computes the writes the effects of op ask for: once, or once per child. Every
// target is locked before any is read, in one order (by resource, then id), whatever order
// the effects name them in: two writes whose effects change the same records the other way
// round (a transfer from A to B and one from B to A, each taking from its source and adding
// to its destination) would otherwise each hold one lock and wait for the other's.
func (r *Resource) Effects(ctx context.Context, reader Reader, vars *Vars, op spec.Operation, children Children) ([]Write, error) {
	var planned []plannedWrite
	for _, ef := range r.effects {
		if !spec.Applies(ef.spec.On, op) {
			continue
		}
		ps, err := ef.planAll(ctx, reader, vars, children)
		if err != nil {
			return nil, err
		}
		planned = append(planned, ps...)
	}
	if err := lockInOrder(ctx, reader, planned); err != nil {
		return nil, err
	}
	out := make([]Write, 0, len(planned))
	for _, p := range planned {
		w, err := p.ef.write(ctx, reader, p.vars, p.id)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// planAll plans ef: once, or with each: once per child. Children are read unlocked first; when
// the effect applies to any of them they are read again locked, and planned again from that
// read, so that none changes between the read and this write's commit: a restock that read an
// order's lines unlocked could put back a quantity a concurrent update of a line had just
// replaced. (Locked only then: an update of the order that cancels nothing locks no line.)
func (ef *effect) planAll(ctx context.Context, reader Reader, vars *Vars, children Children) ([]plannedWrite, error) {
	if ef.child == nil {
		return ef.planItems(ctx, reader, vars, []*Record{nil})
	}
	items, _, err := children(ctx, ef.spec.Each, false)
	if err != nil {
		return nil, err
	}
	out, err := ef.planItems(ctx, reader, vars, items)
	if err != nil || len(out) == 0 {
		return out, err
	}
	items, locked, err := children(ctx, ef.spec.Each, true)
	if err != nil || !locked {
		return out, err
	}
	return ef.planItems(ctx, reader, vars, items)
}

// planItems plans ef once for each of items (nil: no item).
func (ef *effect) planItems(ctx context.Context, reader Reader, vars *Vars, items []*Record) ([]plannedWrite, error) {
	var out []plannedWrite
	for _, item := range items {
		v := *vars
		v.Item = item
		p, ok, err := ef.plan(ctx, reader, &v)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// plannedWrite is an effect that applies, with the record it changes.
type plannedWrite struct {
	ef   *effect
	vars *Vars
	id   string
}

// plan decides whether ef applies (its when) and which record it changes (its id).
func (ef *effect) plan(ctx context.Context, reader Reader, vars *Vars) (plannedWrite, bool, error) {
	if ef.when != nil {
		ok, err := ef.when.holds(ctx, reader, vars)
		if err != nil || !ok {
			return plannedWrite{}, false, err
		}
	}
	idVal, err := ef.id.eval(ctx, reader, vars)
	if err != nil {
		return plannedWrite{}, false, err
	}
	return plannedWrite{ef: ef, vars: vars, id: fmt.Sprint(idVal.Value())}, true, nil
}

// lockInOrder locks the records the planned writes change, each once, by resource and id.
func lockInOrder(ctx context.Context, reader Reader, planned []plannedWrite) error {
	type key struct{ resource, id string }
	keys := make([]key, 0, len(planned))
	for _, p := range planned {
		keys = append(keys, key{p.ef.target.Name, p.id})
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(strings.Compare(a.resource, b.resource), strings.Compare(a.id, b.id))
	})
	for i, k := range keys {
		if i > 0 && k == keys[i-1] {
			continue
		}
		if err := reader.Lock(ctx, k.resource, k.id); err != nil {
			return err
		}
	}
	return nil
}

// write computes the values ef sets on the record id, locked already.
func (ef *effect) write(ctx context.Context, reader Reader, vars *Vars, id string) (Write, error) {
	target, err := reader.Get(ctx, ef.target.Name, id)
	if err != nil {
		return Write{}, err
	}
	if target == nil {
		return Write{}, &EvalError{Expr: ef.spec.ID.Text, Err: fmt.Errorf("no %s record has id %s", ef.target.Name, id)}
	}
	vars.Target = target
	values, err := evalAssignments(ctx, reader, vars, ef.target.Name, ef.set)
	if err != nil {
		return Write{}, err
	}
	return Write{Resource: ef.target.Name, ID: id, Values: values, Source: "effect " + ef.spec.Name}, nil
}

// evalAssignments computes field values of resource from their expressions.
func evalAssignments(ctx context.Context, reader Reader, vars *Vars, resource string, set []*assign) (map[string]any, error) {
	out := make(map[string]any, len(set))
	for _, a := range set {
		v, err := a.prog.eval(ctx, reader, vars)
		if err != nil {
			return nil, err
		}
		sv, err := StoreValue(a.field, v)
		if err != nil {
			var ve *ValueError
			if errors.As(err, &ve) {
				ve.Resource = resource
			}
			return nil, &EvalError{Expr: a.prog.src, Err: err}
		}
		out[a.field.Name] = sv
	}
	return out, nil
}

// RollupParent is a to-one relation of a resource whose target keeps rollups over it.
type RollupParent struct {
	Field   *spec.Field // the child's to-one relation (order_items.order)
	Parent  *spec.Resource
	Rollups []*spec.Field // the parent's rollup fields over the inverse of Field
	// Where holds, by rollup field, the condition a child meets to count (rollup.where).
	Where map[string]query.Cond
}

// rollupParents lists child's rollup parents, each rollup's where compiled (a bad one is a
// problem at its position).
func (c *compiler) rollupParents(child *spec.Resource) []*RollupParent {
	out := rollupParents(c.spec, child)
	var filter *expr.Filter
	for _, rp := range out {
		for _, f := range rp.Rollups {
			if !f.Rollup.Where.Set() {
				continue
			}
			if filter == nil {
				var err error
				if filter, err = expr.NewFilter(child); err != nil {
					c.fail(f.Rollup.Where.Pos, "%s.rollup.where: %v", f.Name, err)
					return out
				}
			}
			cond, err := filter.Compile(f.Rollup.Where.Text)
			if err != nil {
				c.fail(f.Rollup.Where.Pos, "%s.%s rollup.where: %v", rp.Parent.Name, f.Name, err)
				continue
			}
			if rp.Where == nil {
				rp.Where = map[string]query.Cond{}
			}
			rp.Where[f.Name] = cond
		}
	}
	return out
}

func rollupParents(s *spec.Spec, child *spec.Resource) []*RollupParent {
	var out []*RollupParent
	for _, f := range child.Fields {
		if f.Relation == nil || f.Relation.Kind != spec.RelToOne {
			continue
		}
		parent := s.Resource(f.Relation.To)
		rp := &RollupParent{Field: f, Parent: parent}
		for _, pf := range parent.Fields {
			if pf.Rollup == nil {
				continue
			}
			if inv := parent.Field(pf.Rollup.Of); inv != nil && inv.IsInverse() && inv.Relation.To == child.Name && inv.Relation.Inverse == f.Name {
				rp.Rollups = append(rp.Rollups, pf)
			}
		}
		if len(rp.Rollups) > 0 {
			out = append(out, rp)
		}
	}
	return out
}

// LockedAfter lists the to-one relation fields of this resource whose targets a write of op
// locks after the record itself: the parents keeping rollups over it, the targets its
// effects of op name through one of those fields (id: record.cart, or old.cart), and those of
// a resource its rules, defaults, computed fields or guards lock (get() reads it, or a
// count's filter pins it down). A caller that locks them first keeps one order, parent
// before child, with writes that reach the child from its parent (an action on a cart whose
// step updates one of its lines).
// The list is shared: callers must not change it.
func (r *Resource) LockedAfter(op spec.Operation) []*spec.Field { return r.lockedAfter[op] }

func (r *Resource) computeLockedAfter(op spec.Operation) []*spec.Field {
	var out []*spec.Field
	add := func(f *spec.Field) {
		if f != nil && f.Relation != nil && f.Relation.Kind == spec.RelToOne && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, rp := range r.Parents {
		add(rp.Field)
	}
	for _, ef := range r.effects {
		if !spec.Applies(ef.spec.On, op) || ef.child != nil {
			continue
		}
		name, ok := strings.CutPrefix(strings.TrimSpace(ef.spec.ID.Text), "record.")
		if !ok {
			name, ok = strings.CutPrefix(strings.TrimSpace(ef.spec.ID.Text), "old.")
		}
		if f := r.Spec.Field(name); ok && f != nil && f.Relation != nil && f.Relation.To == ef.target.Name {
			add(f)
		}
	}
	for _, f := range r.Spec.Fields {
		if f.Relation != nil && r.checkLocks[f.Relation.To] {
			add(f)
		}
	}
	return out
}

// LocksForChecks reports whether the checks before a write lock records of resource.
func (r *Resource) LocksForChecks(resource string) bool { return r.checkLocks[resource] }
