package service

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Writes lock the records they read or change besides their own before their own, in one
// order (by resource, then id): the parents refreshing rollups over it, the targets of its
// effects named by its to-one relations, the records its rules read (logic.LockedAfter).
// Writes then take their locks parent before child whichever way they reach the child: an
// action on a cart whose step updates a line, run at once with updates of that line, each
// held one and waited for the other's on PostgreSQL (deadlocks broken and retried until
// 503), as did two orders naming the same two products in opposite orders.

// lockAhead locks, before the record id of r itself, the records a write of op on it locks
// after it. The record is read unlocked to learn them; should it move to another parent
// before it is locked, the write locks that one after it, as before. in names what an update
// changes (nil: anything, an action's steps): a parent whose rollups it cannot change, and
// that nothing else reads, is left to the write.
func (s *Service) lockAhead(ctx context.Context, tx *store.Exec, r *resource, op spec.Operation, id string, in, typed map[string]any, full bool) error {
	lr := s.logic.Resource(r.Name)
	if lr == nil || !tx.LocksRows() {
		return nil
	}
	fields := lr.LockedAfter(op)
	if op == spec.OpUpdate && in != nil && !full {
		fields = slices.DeleteFunc(slices.Clone(fields), func(f *spec.Field) bool { return !mayMove(lr, f, in, typed) })
	}
	if len(fields) == 0 {
		return nil
	}
	pre, err := tx.Get(ctx, r.Name, id, nil)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the locked read that follows says so
	}
	if err != nil {
		return err
	}
	var keys []lockKey
	for _, f := range fields {
		keys = addKeys(keys, f, pre.Values[r.index(f)], in[f.Name], typed[f.Name])
	}
	return lockKeys(ctx, tx, keys)
}

// lockCreate is lockAhead for a create of rec (its values as the body and defaults give them).
func (s *Service) lockCreate(ctx context.Context, tx *store.Exec, r *resource, rec *store.Record) error {
	lr := s.logic.Resource(r.Name)
	if lr == nil || !tx.LocksRows() {
		return nil
	}
	var keys []lockKey
	for _, f := range lr.LockedAfter(spec.OpCreate) {
		keys = addKeys(keys, f, rec.Values[r.index(f)])
	}
	return lockKeys(ctx, tx, keys)
}

// lockChildren locks what every nested child of a create locks besides its parent (new, so
// no one else's), all of them in one order, before any child is written: each child's own
// lockCreate would otherwise lock in the order the body lists them.
func (w *write) lockChildren(ctx context.Context, children map[string][]map[string]any) error {
	if !w.tx.LocksRows() || len(children) == 0 {
		return nil
	}
	var keys []lockKey
	_ = w.eachChild(children, func(child *resource, back, _ string, item map[string]any) error {
		if lr := w.s.logic.Resource(child.Name); lr != nil {
			for _, f := range lr.LockedAfter(spec.OpCreate) {
				if f.Name != back {
					keys = addKeys(keys, f, item[f.Name])
				}
			}
		}
		return nil
	})
	return lockKeys(ctx, w.tx, keys)
}

type lockKey struct{ resource, id string }

// addKeys adds f's target for each of values that is an id.
func addKeys(keys []lockKey, f *spec.Field, values ...any) []lockKey {
	for _, v := range values {
		if id, ok := v.(string); ok {
			if _, valid := validID(id); valid {
				keys = append(keys, lockKey{f.Relation.To, id})
			}
		}
	}
	return keys
}

// lockKeys locks keys' records, each once, by resource and id.
func lockKeys(ctx context.Context, tx *store.Exec, keys []lockKey) error {
	slices.SortFunc(keys, func(a, b lockKey) int {
		return cmp.Or(strings.Compare(a.resource, b.resource), strings.Compare(a.id, b.id))
	})
	for _, k := range slices.Compact(keys) {
		if err := tx.LockRow(ctx, k.resource, k.id); err != nil {
			return err
		}
	}
	return nil
}

// mayMove reports whether an update naming the fields of in (or typed) may lock f's target
// after its record: f names an effect's target (its when is not known before the write) or a
// record the checks read, or the update names f itself or a field a rollup over it
// aggregates, or such a field is computed, or a rollup over it counts only some children.
func mayMove(lr *logic.Resource, f *spec.Field, in, typed map[string]any) bool {
	named := func(name string) bool {
		_, a := in[name]
		_, b := typed[name]
		return a || b
	}
	var rp *logic.RollupParent
	for _, p := range lr.Parents {
		if p.Field == f {
			rp = p
		}
	}
	if rp == nil || named(f.Name) || lr.LocksForChecks(f.Relation.To) || len(rp.Where) > 0 {
		return true // a rollup's where: may read any field the update names
	}
	for _, pf := range rp.Rollups {
		if pf.Rollup.Field == "" {
			continue // a count changes only with the parent
		}
		if cf := lr.Spec.Field(pf.Rollup.Field); cf != nil && (named(cf.Name) || cf.Compute.Set()) {
			return true
		}
	}
	return false
}
