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

// lockAhead locks, before the record id of r itself, the records a write of op on it locks
// after it (logic.LockedAfter: the parents refreshing rollups over it, the targets of its
// effects named by its to-one relations), by resource and id. Writes then take their locks
// parent before child whichever way they reach the child: an action on a cart whose step
// updates a line, run at once with updates of that line, each held one and waited for the
// other's on PostgreSQL (deadlocks broken and retried until 503). The record is read
// unlocked to learn its parents; should it move to another parent before it is locked, the
// write locks that one after it, as before. in names what an update changes (nil: anything,
// an action's steps): a parent whose rollups it cannot change is left to the write.
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
	type key struct{ resource, id string }
	var keys []key
	for _, f := range fields {
		for _, v := range []any{pre.Values[r.index(f)], in[f.Name], typed[f.Name]} {
			if id, ok := v.(string); ok {
				if _, valid := validID(id); valid {
					keys = append(keys, key{f.Relation.To, id})
				}
			}
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
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
// after its record: f names an effect's target (its when is not known before the write), or
// the update names f itself or a field a rollup over it aggregates, or such a field is
// computed.
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
	if rp == nil || named(f.Name) {
		return true
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
