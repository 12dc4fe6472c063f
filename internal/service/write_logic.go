package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// logicRun is the business logic of one write: what it evaluated and what it found.
type logicRun struct {
	res        *logic.Resource
	reader     *txReader
	vars       *logic.Vars
	rec        *store.Record
	violations []logic.Violation
}

// runLogic computes CEL defaults (create) and computed fields, checks required fields, then
// the rules and the state machine; field problems join errs, rule problems the run.
func (w *write) runLogic(ctx context.Context, op spec.Operation, rec, old *store.Record, in map[string]any, requireAll bool, errs *fieldErrors) (*logicRun, error) {
	lr := w.s.logic.Resource(w.r.Name)
	defer func() { w.seen = nil }() // what the logic read may change from here on
	if lr == nil || !lr.HasLogic() {
		if op != spec.OpDelete {
			w.r.requireFields(rec, in, requireAll, errs, nil)
		}
		return nil, nil
	}
	run := &logicRun{res: lr, reader: &txReader{s: w.s, tx: w.tx, seen: w.seen}, rec: rec, vars: w.s.logicVars(ctx, w.r, rec, old, string(op))}
	defaults := op == spec.OpCreate || requireAll // a create, or a PUT replacing the record: CEL defaults apply
	if op != spec.OpDelete {
		// A required field missing that no expression fills is refused before the expressions
		// run, so those reading it are skipped, not failed (as rules reading it are).
		w.r.requireFields(rec, in, requireAll, errs, filledByLogic(w.r, defaults))
	}
	blocked := blockedBy(*errs)
	if defaults {
		absent := func(f string) bool { return !blocked[f] && rec.Values[w.r.index(w.r.Field(f))] == nil }
		vals, err := lr.Defaults(ctx, run.reader, run.vars, absent, blocked)
		if err := w.takeComputed(rec, vals, err, errs); err != nil {
			return nil, err
		}
		maps.Copy(blocked, blockedBy(*errs)) // a default that failed blocks what reads it
	}
	if op != spec.OpDelete {
		vals, err := lr.Compute(ctx, run.reader, run.vars, blocked)
		if err := w.takeComputed(rec, vals, err, errs); err != nil {
			return nil, err
		}
		w.r.requireFields(rec, in, requireAll, errs, blocked)
	}
	for _, e := range *errs {
		blocked[e.Field] = true
	}
	viols, err := lr.CheckRules(ctx, run.reader, run.vars, op, func(f string) bool { return blocked[f] })
	if err != nil {
		return nil, err
	}
	system := isSystem(ctx) && PrincipalFrom(ctx) == nil
	states, err := lr.CheckStates(ctx, run.reader, run.vars, op, system)
	if err != nil {
		return nil, err
	}
	run.violations = append(viols, states...)
	run.reader.seen = nil
	return run, nil
}

// blockedBy lists the fields errs names: logic reading them is skipped.
func blockedBy(errs fieldErrors) map[string]bool {
	blocked := map[string]bool{}
	for _, e := range errs {
		blocked[e.Field] = true
	}
	return blocked
}

// filledByLogic lists r's fields an expression may fill: computed fields, and CEL defaults
// when they apply.
func filledByLogic(r *resource, defaults bool) map[string]bool {
	filled := map[string]bool{}
	for _, f := range r.Fields {
		if f.Compute.Set() || (defaults && f.DefaultExpr.Set()) {
			filled[f.Name] = true
		}
	}
	return filled
}

// computeMessage says why a field's default_expr or compute failed: a value it does not fit
// is named (its enum, its bounds); an expression that could not be evaluated is not — its
// text and CEL's error are the spec's logic, not the client's to read (logic.md).
func computeMessage(fe *logic.FieldError) string {
	var ee *logic.EvalError
	if errors.As(fe.Err, &ee) {
		return "could not be computed for this record: a value or a record it reads is missing, or of another type"
	}
	return "could not be computed: " + fe.Err.Error()
}

// takeComputed stores values logic computed on rec (checked against the fields' own
// constraints); an expression that could not be computed is an error on its field.
func (w *write) takeComputed(rec *store.Record, vals map[string]any, err error, errs *fieldErrors) error {
	var fe *logic.FieldError
	switch {
	case errors.As(err, &fe):
		errs.add(fe.Field, "compute", "%s", computeMessage(fe))
		return nil
	case err != nil:
		return err
	}
	for name, v := range vals {
		f := w.r.Field(name)
		idx := w.r.index(f)
		if v != nil {
			if code, msg := w.r.rules[idx].check(f, v); code != "" {
				errs.add(name, code, "%s (computed)", msg)
				continue
			}
		}
		rec.Values[idx] = v
	}
	return nil
}

// applyTyped sets values logic computed for this write (effects, action steps, schedules).
// A value its field refuses is no fault of the request: the records it was computed from do
// not allow the write (an effect taking stock below its min: 0), so the answer is 409
// logic_failed, as for a value that could not be computed, naming the field and its
// constraint (not the expression).
func (w *write) applyTyped(rec *store.Record) error {
	if len(w.typed) == 0 {
		return nil
	}
	var errs fieldErrors
	vals := make(map[string]any, len(w.typed))
	for k, v := range w.typed {
		if w.r.Field(k) == nil {
			errs.add(k, "unknown_field", "is not a field of %s", w.r.Name)
			continue
		}
		vals[k] = v
	}
	_ = w.takeComputed(rec, vals, nil, &errs)
	if len(errs) == 0 {
		return nil
	}
	w.r.sortErrors(errs) // in the spec's order, as a 400's (takeComputed walks a map)
	var shown fieldErrors
	said := make([]string, len(errs))
	for i, e := range errs {
		said[i] = e.Field + " " + e.Code + " (" + e.Message + ")"
		if f := w.r.Field(e.Field); f == nil || !f.Hidden { // a hidden field is named in the log only
			shown = append(shown, e)
		}
	}
	return w.prefix(&Error{Code: CodeLogicFailed, Class: CodeConflict, Fields: shown,
		Message: "a value this write sets (an effect's or an action step's set:) does not fit its field; nothing was written",
		Cause:   fmt.Errorf("%s refuses %s", w.r.Name, strings.Join(said, ", "))})
}

// hooked runs the before-hooks. What they change is checked as a request's values are, by
// running again what checks them — the links it names, the computed fields and CEL defaults,
// the rules, the state machine and the access rule — and counts as sent: a link field a hook
// sets is written. (Only the type and constraint checks ran: a computed field kept its value
// from before the hook, a state or a link the request could not have set was written.) It
// returns the input with the changed fields, and the logic run the write goes on with.
func (w *write) hooked(ctx context.Context, op spec.Operation, rec, old *store.Record, in map[string]any, requireAll bool, lv *logicRun) (map[string]any, *logicRun, error) {
	if !w.s.hasBefore(w.r.Name, op) {
		return in, lv, nil
	}
	was := slices.Clone(rec.Values)
	if err := w.runBefore(ctx, op, rec, old); err != nil {
		return nil, nil, err
	}
	changed := map[string]any{}
	ran := &hookRun{changed: map[int]any{}}
	for i, f := range w.r.Fields {
		if !sameValue(was[i], rec.Values[i]) {
			changed[f.Name], ran.changed[i] = rec.Values[i], rec.Values[i]
		}
	}
	if old != nil {
		ran.version, w.ran = old.Version, ran
	}
	if len(changed) == 0 {
		return in, lv, nil
	}
	merged := maps.Clone(in)
	if merged == nil {
		merged = map[string]any{}
	}
	maps.Copy(merged, changed)
	if requireAll { // a create or PUT: CEL defaults the request left to them are computed again
		for i, f := range w.r.Fields {
			if _, given := merged[f.Name]; !given && f.DefaultExpr.Text != "" {
				rec.Values[i] = nil
			}
		}
	}
	var errs fieldErrors
	if err := w.checkRelations(ctx, rec, changed, &errs); err != nil {
		return nil, nil, err
	}
	lv, err := w.runLogic(ctx, op, rec, old, merged, requireAll, &errs)
	if err != nil {
		return nil, nil, err
	}
	if err := w.judge(ctx, rec, errs, lv, "the access rule for "+string(op)+" on %s does not allow what a hook changed"); err != nil {
		return nil, nil, err
	}
	return merged, lv, nil
}

// hookRun is what before-hooks changed (values by field index) on the record at version.
type hookRun struct {
	version int64
	changed map[int]any
}

// runBefore runs the before-hooks on rec — or, for the locked update after one that could not
// fold what they changed (a relation: errMoved), applies what they changed then, when the
// record is still at the version they saw: they run once per request, not twice (a review:
// every PATCH whose hook set a relation ran it twice on PostgreSQL). A record that moved in
// between gets them run again, as docs/logic.md says.
func (w *write) runBefore(ctx context.Context, op spec.Operation, rec, old *store.Record) error {
	if r := w.replay; r != nil && old != nil && r.version == old.Version {
		for i, v := range r.changed {
			rec.Values[i] = v
		}
		return nil
	}
	if err := w.s.before(ctx, w.r.Name, op, rec); err != nil {
		return w.prefix(err)
	}
	return nil
}

// computedLinks answers a relation that logic set (a step's values:, an effect's or a step's
// set:) to a record the write may not link — none has that id, or the writer cannot see it —
// as 409 logic_failed, as a value that could not be computed: the request sent no such field,
// so a 400 naming it as invalid would blame the client.
func (w *write) computedLinks(errs fieldErrors, in map[string]any) error {
	var shown fieldErrors
	var said []string
	for _, e := range errs {
		_, computed := w.typed[e.Field]
		_, sent := in[e.Field]
		if !computed || sent || e.Code != "not_found" {
			continue
		}
		said = append(said, e.Field+" ("+e.Message+")")
		if f := w.r.Field(e.Field); f == nil || !f.Hidden {
			shown = append(shown, e)
		}
	}
	if len(said) == 0 {
		return nil
	}
	return w.prefix(&Error{Code: CodeLogicFailed, Class: CodeConflict, Fields: shown,
		Message: "a record this write links by its logic (an effect's or an action step's set: or values:) is missing or not one it may link; nothing was written",
		Cause:   fmt.Errorf("%s: %s", w.r.Name, strings.Join(said, ", "))})
}

// judge answers a write of rec: the access rule first, then the verdict of errs and the logic
// run. The rules read other records (a count, an exists, a get), so their answers would tell
// a writer the access rule does not admit what those hold (a member who may book only the
// lobby learning when the CEO's office is taken, from a 409): such a writer gets 403 — or, when
// the request has field errors of its own, those alone, which read no other record. denied
// is the 403's message, with %s for the resource.
func (w *write) judge(ctx context.Context, rec *store.Record, errs fieldErrors, lv *logicRun, denied string) error {
	ok, err := w.allows(ctx, rec)
	switch {
	case err != nil:
		return err
	case ok:
		return w.verdict(errs, lv)
	case len(errs) > 0:
		return w.verdict(errs, nil)
	}
	return Errorf(CodeForbidden, denied, w.r.Name)
}

// verdict turns field errors and violations into the answer: one 400 with every problem,
// or — when only rules about stored state failed — a 409 with the first rule's code.
func (w *write) verdict(errs fieldErrors, run *logicRun) error {
	var conflicts []logic.Violation
	if run != nil {
		for _, v := range run.violations {
			if v.Conflict {
				conflicts = append(conflicts, v)
				continue
			}
			errs = append(errs, violationErrors(v)...)
		}
	}
	if len(errs) > 0 {
		for _, c := range conflicts {
			errs = append(errs, violationErrors(c)...)
		}
		w.r.sortErrors(errs)
		return w.prefix(errs.err(CodeValidation, "the request has invalid fields"))
	}
	if len(conflicts) == 0 {
		return nil
	}
	var fields fieldErrors
	for _, c := range conflicts {
		fields = append(fields, violationErrors(c)...)
	}
	first := conflicts[0]
	detail := first.Message
	if len(first.Fields) > 0 {
		// named as the errors name it (prefix): items[0].qty in a nested write, not qty
		detail = strings.TrimSuffix(w.path+first.Fields[0], ".") + ": " + detail
	}
	return w.prefix(&Error{Code: Code(first.Code), Class: CodeConflict, Message: detail, Fields: fields})
}

func violationErrors(v logic.Violation) []FieldError {
	if len(v.Fields) == 0 {
		return []FieldError{{Field: "", Code: v.Code, Message: v.Message, Rule: v.Rule}}
	}
	out := make([]FieldError, 0, len(v.Fields))
	for _, f := range v.Fields {
		out = append(out, FieldError{Field: f, Code: v.Code, Message: v.Message, Rule: v.Rule})
	}
	return out
}

// prefix names the fields of a nested write's errors by their path (items[1].quantity).
func (w *write) prefix(err error) error {
	var e *Error
	if w.path == "" || !errors.As(err, &e) {
		return err
	}
	out := *e
	if e.clash != nil {
		out.clash = &uniqueClash{ce: e.clash.ce, path: w.path + e.clash.path}
	}
	out.Fields = make([]FieldError, len(e.Fields))
	for i, f := range e.Fields {
		f.Field = strings.TrimSuffix(w.path+f.Field, ".")
		out.Fields[i] = f
	}
	if len(out.Fields) == 0 {
		out.Fields = []FieldError{{Field: strings.TrimSuffix(w.path, "."), Code: string(e.Code), Message: e.Message}}
	}
	return &out
}

// effects applies the writes the resource's effects ask for, each through the pipeline of
// its target (its constraints, rules and state machine) on this write's authority.
func (w *write) effects(ctx context.Context, op spec.Operation, run *logicRun) error {
	children := func(ctx context.Context, field string, lock bool) ([]*logic.Record, bool, error) {
		if lock && !w.tx.LocksRows() {
			return nil, false, nil
		}
		recs, err := w.children(ctx, run.rec, field, lock)
		return recs, lock, err
	}
	writes, err := run.res.Effects(ctx, run.reader, run.vars, op, children)
	if err != nil {
		return w.logicError(err)
	}
	for _, wr := range writes {
		tw := &write{s: w.s, tx: w.tx, r: w.s.resources[wr.Resource], inner: true, typed: wr.Values, path: wr.Resource + "."}
		if _, err := tw.update(AsSystem(ctx), wr.ID, nil, updateArgs{}); err != nil {
			return err
		}
	}
	return nil
}

// children reads the records of an inverse relation of rec, for effects with each; with lock,
// locked first (a statement of its own: the read after it sees what a wait let commit).
func (w *write) children(ctx context.Context, rec *store.Record, field string, lock bool) ([]*logic.Record, error) {
	f := w.r.Field(field)
	child := w.s.resources[f.Relation.To]
	if lock {
		if err := w.tx.LockByField(ctx, child.Name, f.Relation.Inverse, rec.ID); err != nil {
			return nil, err
		}
	}
	recs, err := w.tx.ByField(ctx, child.Name, f.Relation.Inverse, []string{rec.ID}, 0, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*logic.Record, len(recs))
	for i, c := range recs {
		out[i] = logicRecord(child, c)
	}
	return out, nil
}

// hiddenField reports whether field of resource is hidden: named in the log only.
func (s *Service) hiddenField(resource, field string) bool {
	r := s.resources[resource]
	if r == nil {
		return true
	}
	f := r.Field(field)
	return f == nil || f.Hidden
}

// logicError reports an expression that could not be computed as a 409: the records it
// reads are not in the state the logic expects, or it computed a text its field refuses
// (errors names that field as resource.field, with the constraint's code).
func (w *write) logicError(err error) error {
	var ee *logic.EvalError
	if !errors.As(err, &ee) {
		return err
	}
	e := &Error{Code: CodeLogicFailed, Class: CodeConflict, Message: "a value or condition this write computes (an effect's, or an action step's set:, values:, id: or when:) could not be computed from the stored records: a value or a record it reads is missing, or the result does not fit its field; nothing was written (the server's log names the expression)", Cause: err}
	var ve *logic.ValueError
	if errors.As(err, &ve) && ve.Resource != "" && !w.s.hiddenField(ve.Resource, ve.Field) {
		// a value its field refuses (none of an enum's values): named, as a constraint's is
		e.Fields = []FieldError{{Field: ve.Resource + "." + ve.Field, Code: ve.Code, Message: ve.Message}}
	}
	return w.prefix(e)
}
