package logic

import (
	"context"
	"fmt"
	"math/big"
	"reflect"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Reader reads other records for cross-record functions, inside the write's transaction.
//
// Invariants that span records are kept race-free by row locks taken just before the read
// that checks them: get() locks the record it reads, and count(), exists() and aggregates
// lock the parent their filter pins down (member == record.member locks that member), so
// concurrent writes that check the same invariant run one after the other (PostgreSQL
// SELECT … FOR UPDATE; SQLite's single writer already serializes them).
type Reader interface {
	Lock(ctx context.Context, resource string, id string) error
	// LockSet serializes the writes that count resource by a filter pinning no parent row
	// (slot == record.slot on a text field, a global limit): there is no row to lock, so a
	// lock on the resource's set stands in for it (PostgreSQL: a transaction advisory lock).
	LockSet(ctx context.Context, resource string) error
	Count(ctx context.Context, resource string, where query.Cond) (int64, error)
	// Get returns the record, or nil when there is none.
	Get(ctx context.Context, resource, id string) (*Record, error)
	// Aggregate returns sum, min or max of field over the rows where holds, as the store
	// keeps the field's values; nil when no row matches.
	Aggregate(ctx context.Context, resource, fn, field string, where query.Cond) (any, error)
	// IDs lists the ids of at most limit records where holds, oldest first.
	IDs(ctx context.Context, resource string, where query.Cond, limit int) ([]string, error)
}

// Auth is the principal as expressions see it.
type Auth struct {
	ID    string
	Role  string
	Roles []string
	Key   string
}

// Vars are the values one evaluation sees.
type Vars struct {
	Record, Old, Input, Item, Target *Record
	// New is a trigger's record after the write.
	New       *Record
	Auth      *Auth
	Now       time.Time
	Operation string
}

func (v *Vars) activation(st *evalState) map[string]any {
	act := map[string]any{varNow: types.Timestamp{Time: v.Now}, varOperation: v.Operation, varState: stateVal{st}}
	auth := map[string]any{}
	if v.Auth != nil {
		if v.Auth.ID != "" {
			auth["id"] = v.Auth.ID
		}
		auth["role"], auth["roles"] = v.Auth.Role, append([]string{}, v.Auth.Roles...)
		if v.Auth.Key != "" {
			auth["key"] = v.Auth.Key
		}
	}
	act[varAuth] = auth
	for name, r := range map[string]*Record{varRecord: v.Record, varOld: v.Old, varNew: v.New, varInput: v.Input, varItem: v.Item, varTarget: v.Target} {
		if r != nil {
			act[name] = r
		}
	}
	return act
}

// evalState carries what cross-record functions need through one evaluation.
type evalState struct {
	ctx    context.Context
	reader Reader
	vars   *Vars
	sites  []*site
	err    error // the first reader failure: an outage is not a rule violation
}

func (st *evalState) fail(err error) ref.Val {
	if st.err == nil {
		st.err = err
	}
	return types.NewErr("%v", err)
}

// stateVal hands the evaluation state to the state-bound functions as a CEL value.
type stateVal struct{ st *evalState }

func (s stateVal) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("internal value")
}
func (s stateVal) ConvertToType(ref.Type) ref.Val { return types.NewErr("internal value") }
func (s stateVal) Equal(ref.Val) ref.Val          { return types.False }
func (s stateVal) Type() ref.Type                 { return types.NewOpaqueType("kiln.state") }
func (s stateVal) Value() any                     { return s }

func stateOf(v ref.Val) (*evalState, bool) {
	s, ok := v.(stateVal)
	return s.st, ok
}

// crossRecordFunctions declares the functions the cross-record macros expand to.
func crossRecordFunctions(s *spec.Spec) []cel.EnvOption {
	opts := []cel.EnvOption{
		cel.Function(siteFunction(siteCount, "", ""), cel.Overload("__kiln_count", []*cel.Type{cel.DynType, cel.IntType}, cel.IntType,
			cel.BinaryBinding(func(s, i ref.Val) ref.Val { return call(s, i, nil, (*evalState).count) }))),
		cel.Function(siteFunction(siteExists, "", ""), cel.Overload("__kiln_exists", []*cel.Type{cel.DynType, cel.IntType}, cel.BoolType,
			cel.BinaryBinding(func(s, i ref.Val) ref.Val { return call(s, i, nil, (*evalState).exists) }))),
	}
	for _, r := range s.Resources {
		name := siteFunction(siteGet, r.Name, "")
		opts = append(opts, cel.Function(name, cel.Overload(name, []*cel.Type{cel.DynType, cel.IntType, cel.StringType}, objectType(r.Name),
			cel.FunctionBinding(func(args ...ref.Val) ref.Val { return call(args[0], args[1], args[2], (*evalState).get) }))))
		for _, f := range r.Fields {
			if !f.Stored() || f.Hidden || (f.Type != spec.TypeInteger && f.Type != spec.TypeNumber && f.Type != spec.TypeDecimal) {
				continue
			}
			for _, fn := range []string{siteSum, siteMin, siteMax} {
				name := siteFunction(fn, r.Name, f.Name)
				opts = append(opts, cel.Function(name, cel.Overload(name, []*cel.Type{cel.DynType, cel.IntType}, fieldCELType(f),
					cel.BinaryBinding(func(s, i ref.Val) ref.Val { return call(s, i, nil, (*evalState).aggregate) }))))
			}
		}
	}
	return opts
}

func call(s, i, arg ref.Val, fn func(*evalState, *site, ref.Val) ref.Val) ref.Val {
	st, ok := stateOf(s)
	idx, ok2 := i.(types.Int)
	if !ok || !ok2 || int(idx) >= len(st.sites) {
		return types.NewErr("cross-record function called outside a write")
	}
	return fn(st, st.sites[idx], arg)
}

// where locks the parents the site's filter pins down — or, pinning none, the counted
// resource's set (LockSet) — then builds its condition.
func (st *evalState) where(s *site) (query.Cond, error) {
	if len(s.where.locks) == 0 {
		if err := st.reader.LockSet(st.ctx, s.resource); err != nil {
			st.fail(err)
			return nil, err
		}
	}
	for _, l := range s.where.locks {
		out, _, err := (*l.id).ContextEval(st.ctx, st.vars.activation(st))
		if err != nil {
			continue // no value to pin (a missing attribute): the filter matches nothing of it
		}
		if err := st.reader.Lock(st.ctx, l.resource, fmt.Sprint(out.Value())); err != nil {
			st.fail(err)
			return nil, err
		}
	}
	return s.where.build(st)
}

func (st *evalState) count(s *site, _ ref.Val) ref.Val {
	cond, err := st.where(s)
	if err != nil {
		return types.NewErr("%v", err)
	}
	n, err := st.reader.Count(st.ctx, s.resource, cond)
	if err != nil {
		return st.fail(err)
	}
	return types.Int(n)
}

func (st *evalState) exists(s *site, v ref.Val) ref.Val {
	n := st.count(s, v)
	if i, ok := n.(types.Int); ok {
		return types.Bool(i > 0)
	}
	return n
}

func (st *evalState) get(s *site, id ref.Val) ref.Val {
	if err := st.reader.Lock(st.ctx, s.resource, fmt.Sprint(id.Value())); err != nil {
		return st.fail(err)
	}
	rec, err := st.reader.Get(st.ctx, s.resource, fmt.Sprint(id.Value()))
	switch {
	case err != nil:
		return st.fail(err)
	case rec == nil:
		return types.NewErr("no %s record has id %v", s.resource, id.Value())
	}
	return rec
}

func (st *evalState) aggregate(s *site, _ ref.Val) ref.Val {
	cond, err := st.where(s)
	if err != nil {
		return types.NewErr("%v", err)
	}
	v, err := st.reader.Aggregate(st.ctx, s.resource, s.kind, s.field, cond)
	switch {
	case err != nil:
		return st.fail(err)
	case v == nil && s.kind == siteSum:
		return zeroOf(s)
	case v == nil:
		return types.NewErr("%s of %s.%s: no record matches (test with exists(…) first)", s.kind, s.resource, s.field)
	}
	return types.DefaultTypeAdapter.NativeToValue(celValue(v))
}

// zeroOf is the sum of no rows, in the field's type.
func zeroOf(s *site) ref.Val {
	switch s.ftype {
	case spec.TypeDecimal:
		return Decimal{r: new(big.Rat)}
	case spec.TypeNumber:
		return types.Double(0)
	}
	return types.Int(0)
}
