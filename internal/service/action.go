package service

import (
	"context"
	"fmt"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// GoAction is an action written in Go: it runs inside the action's transaction with a Tx
// that writes through the same pipeline, and returns the id of the record to answer with
// (empty: the action's record).
type GoAction func(ctx context.Context, call ActionCall) (string, error)

// ActionCall is what a Go action receives.
type ActionCall struct {
	Resource string
	Record   *store.Record
	Input    map[string]any
	Tx       *Tx
}

// Action runs the named action on record id: its own access rule (a record it hides is
// 404), its input validated like a resource's fields, then its steps in one transaction
// through the write pipeline — the record's rules and state machine, effects, rollups. The
// answer is the resulting record.
func (s *Service) Action(ctx context.Context, resName, id, name string, in map[string]any, opts WriteOpts) (*store.Record, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, err
	}
	a := r.RecordAction(name)
	if a == nil {
		return nil, Errorf(CodeNotFound, "%s has no action %q", r.Name, name)
	}
	cond, err := s.authorizeOn(ctx, r, spec.Action(expr.ActionPrefix+name))
	if err != nil {
		return nil, err
	}
	id, ok := validID(id)
	if !ok {
		return nil, Errorf(CodeNotFound, "%s record not found", r.Name)
	}
	input, err := s.actionInput(ctx, r, a, in)
	if err != nil {
		return nil, err
	}
	ctx, leave, err := s.enter(ctx, r)
	if err != nil {
		return nil, err
	}
	defer leave()
	ctx, done := collect(ctx)
	var rec *store.Record
	err = s.store.InTx(ctx, func(tx *store.Exec) error {
		done.reset()
		if rec, err = s.runAction(ctx, tx, r, a, id, cond, input, opts); err != nil {
			return err
		}
		return opts.remember(ctx, tx, rec)
	})
	if err != nil {
		return nil, s.writeError(r, s.refusedSeen(ctx, err))
	}
	s.flush(ctx, done) // each record its steps wrote, by the operation that wrote it
	return rec, nil
}

func (s *Service) runAction(ctx context.Context, tx *store.Exec, r *resource, a *spec.RecordAction, id string, cond queryCond,
	input *logic.Record, opts WriteOpts) (*store.Record, error) {
	// locked, as an update's record is: a concurrent run of an action on it waits, then
	// judges its asserts and its move from the state the first one left
	if err := s.lockAhead(ctx, tx, r, spec.OpUpdate, id, nil, nil, false); err != nil {
		return nil, err
	}
	w := &write{s: s, tx: tx, r: r, cond: cond}
	cur, err := tx.GetForUpdate(ctx, r.Name, id, cond)
	if err != nil {
		return nil, w.hidden(err, id, spec.Action(expr.ActionPrefix+a.Name))
	}
	if err := w.stillAllowed(ctx, cur); err != nil {
		return nil, w.hidden(err, id, spec.Action(expr.ActionPrefix+a.Name))
	}
	if !opts.IfMatch.holds(r.Resource, cur) {
		return nil, store.ErrStale
	}
	before := cur
	if a.Go {
		rec, err := s.runGoAction(ctx, tx, r, a, cur, input)
		if err != nil {
			return nil, err
		}
		return rec, (&write{s: s, tx: tx, r: r}).emit(ctx, events.OpAction, a.Name, before, rec)
	}
	start := logicRecord(r, cur)
	lr := s.logic.Resource(r.Name)
	for i := 0; i < lr.Steps(a.Name); i++ {
		vars := s.logicVars(ctx, r, cur, nil, a.Name)
		vars.Old, vars.Input = start, input
		step, err := lr.Step(ctx, &txReader{s: s, tx: tx}, vars, a.Name, i)
		if err != nil {
			return nil, (&write{s: s, r: r}).logicError(err)
		}
		if cur, err = s.applyStep(ctx, tx, r, cur, step); err != nil {
			return nil, err
		}
	}
	rec, err := tx.Get(ctx, r.Name, id, nil)
	if err != nil {
		return nil, err
	}
	return rec, (&write{s: s, tx: tx, r: r}).emit(ctx, events.OpAction, a.Name, before, rec)
}

// applyStep applies one computed step; the action's record comes back as it now stands.
func (s *Service) applyStep(ctx context.Context, tx *store.Exec, r *resource, cur *store.Record, st logic.StepResult) (*store.Record, error) {
	if st.Kind == logic.StepSkip {
		return cur, nil
	}
	if st.Kind == logic.StepAssert {
		if v := st.Violation; v != nil {
			return nil, &Error{Code: Code(v.Code), Class: CodeConflict, Message: v.Message}
		}
		return cur, nil
	}
	target := s.resources[st.Resource]
	w := &write{s: s, tx: tx, r: target, inner: true, typed: st.Values}
	switch st.Kind {
	case logic.StepSet:
		if err := r.stayingState(cur, st.Values); err != nil {
			return nil, err
		}
		return w.update(ctx, cur.ID, nil, updateArgs{})
	case logic.StepCreate:
		w.path = st.Resource + "."
		_, err := w.create(ctx, nil, "", "")
		return cur, err
	case logic.StepUpdate:
		w.path = st.Resource + "."
		_, err := w.update(ctx, st.ID, nil, updateArgs{})
		return cur, err
	case logic.StepDelete:
		w.path = st.Resource + "."
		_, err := w.delete(ctx, st.ID, nil)
		return cur, err
	}
	return nil, fmt.Errorf("unknown step kind %d", st.Kind)
}

// actionInput validates an action's input like a resource's fields.
func (s *Service) actionInput(ctx context.Context, r *resource, a *spec.RecordAction, in map[string]any) (*logic.Record, error) {
	ir := s.inputs[r.Name+"/"+a.Name]
	// defaults as a create's: now is the time of the run, auth.id the caller's account (none
	// for a key or Kiln's own runs)
	rec := &store.Record{Values: ir.defaults(s.nowUTC(), PrincipalFrom(ctx))}
	var errs fieldErrors
	ir.apply(rec, in, &errs)
	ir.requireFields(rec, in, true, &errs, nil)
	if err := errs.err(CodeValidation, "the action's input has invalid fields"); err != nil {
		return nil, err
	}
	fields := map[string]any{}
	for i, f := range ir.Fields {
		if rec.Values[i] != nil {
			fields[f.Name] = rec.Values[i]
		}
	}
	return &logic.Record{Resource: r.Name, Input: a.Name, Fields: fields}, nil
}

// stayingState refuses an action step that sets a state machine to the state it is in: an
// action is a move (cancelling a cancelled order is a conflict), while a PATCH sending the
// current state is not a change at all.
func (r *resource) stayingState(cur *store.Record, vals map[string]any) error {
	for name, v := range vals {
		f := r.Field(name)
		if f == nil || len(f.Transitions) == 0 || cur.Values[r.index(f)] != v {
			continue
		}
		return &Error{Code: CodeInvalidTransition, Class: CodeConflict, Message: fmt.Sprintf("%s: is already %v", name, v),
			Fields: []FieldError{{Field: name, Code: string(CodeInvalidTransition), Message: fmt.Sprintf("is already %v", v)}}}
	}
	return nil
}
