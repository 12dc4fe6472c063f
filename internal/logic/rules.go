package logic

import (
	"context"
	"errors"
	"slices"

	"github.com/kiln-dev/kiln/internal/spec"
)

// Defaults computes the default_expr of every field absent from a create, in field order;
// each value joins vars.Record so later expressions see it. An expression that reads a field
// blocked reports (one already refused) is left out and its field joins the blocked ones.
func (r *Resource) Defaults(ctx context.Context, reader Reader, vars *Vars, absent func(field string) bool, blocked map[string]bool) (map[string]any, error) {
	return r.assignInOrder(ctx, reader, vars, r.defaults, absent, blocked)
}

// Compute recalculates every computed field, each after the computed fields it reads, else in
// field order (see orderComputed); blocked works as for Defaults.
func (r *Resource) Compute(ctx context.Context, reader Reader, vars *Vars, blocked map[string]bool) (map[string]any, error) {
	return r.assignInOrder(ctx, reader, vars, r.computed, func(string) bool { return true }, blocked)
}

// ComputesFrom reports whether a computed field of the resource reads field (directly, or
// through another computed field).
func (r *Resource) ComputesFrom(field string) bool {
	return len(r.computedFrom([]string{field})) > 0
}

// computedFrom names the computed fields that read one of fields, directly or through
// another computed field.
func (r *Resource) computedFrom(fields []string) map[string]bool {
	read := map[string]bool{}
	for _, f := range fields {
		read[f] = true
	}
	out := map[string]bool{}
	for _, a := range r.computed { // in order: one reading an earlier one reads what it reads
		if slices.ContainsFunc(a.prog.deps, func(f string) bool { return read[f] }) {
			read[a.field.Name], out[a.field.Name] = true, true
		}
	}
	return out
}

// ComputeFrom is Compute for the computed fields that read one of fields (a parent's
// rollups, refreshed by a child's write): the others keep their values.
func (r *Resource) ComputeFrom(ctx context.Context, reader Reader, vars *Vars, fields []string) (map[string]any, error) {
	want := r.computedFrom(fields)
	return r.assignInOrder(ctx, reader, vars, r.computed, func(f string) bool { return want[f] }, map[string]bool{})
}

// FieldError is an expression that could not compute a field's value.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap exposes the cause.
func (e *FieldError) Unwrap() error { return e.Err }

func (r *Resource) assignInOrder(ctx context.Context, reader Reader, vars *Vars, set []*assign, want func(string) bool, blocked map[string]bool) (map[string]any, error) {
	out := map[string]any{}
	for _, a := range set {
		if !want(a.field.Name) {
			continue
		}
		if slices.ContainsFunc(a.prog.deps, func(f string) bool { return blocked[f] }) {
			blocked[a.field.Name] = true
			continue
		}
		v, err := a.prog.eval(ctx, reader, vars)
		if err != nil {
			return nil, fieldErr(a.field.Name, err)
		}
		sv, err := StoreValue(a.field, v)
		if err != nil {
			return nil, &FieldError{Field: a.field.Name, Err: err}
		}
		out[a.field.Name] = sv
		vars.Record.Fields[a.field.Name] = sv
	}
	return out, nil
}

// fieldErr names the field an evaluation failed for; database failures pass unchanged.
func fieldErr(field string, err error) error {
	var ee *EvalError
	if errors.As(err, &ee) {
		return &FieldError{Field: field, Err: err}
	}
	return err
}

// CheckRules evaluates the rules of op against vars. Rules that read a field skip reports
// (one already refused) are left out: their verdict would be about a value nobody stores.
// A rule that cannot be computed (a missing value, a related record that does not exist or
// was deleted) fails with its code, its message saying it could not be judged: the rule's own
// message alone would claim what was never checked.
func (r *Resource) CheckRules(ctx context.Context, reader Reader, vars *Vars, op spec.Operation, skip func(field string) bool) ([]Violation, error) {
	var out []Violation
	for _, rl := range r.rules {
		if !spec.Applies(rl.spec.On, op) || slices.ContainsFunc(rl.check.deps, skip) {
			continue
		}
		ok, err := rl.check.holds(ctx, reader, vars)
		var ee *EvalError
		if err != nil && !errors.As(err, &ee) {
			return nil, err
		}
		if !ok {
			v := rl.violation()
			if ee != nil {
				// Why it cannot is the spec author's to learn (kiln test, the logs of a 500
				// elsewhere): the evaluator's text names ids the caller never sent and hints
				// meant for the spec, so the client hears only that it could not be judged.
				v.Message += " (the rule cannot be computed for this record: a value or a record it reads is missing)"
			}
			out = append(out, v)
		}
	}
	return out, nil
}

func (rl *rule) violation() Violation {
	code := rl.spec.Code
	if code == "" {
		code = "rule"
	}
	return Violation{Rule: ruleName(rl.spec), Code: code, Message: messageOr(rl.spec.Message, ruleWhat(rl.spec)),
		Fields: rl.spec.Fields, Conflict: rl.spec.Conflict}
}

// HasLogic reports whether writes of the resource run any business logic.
func (r *Resource) HasLogic() bool {
	return len(r.rules)+len(r.defaults)+len(r.computed)+len(r.states)+len(r.effects)+len(r.Parents) > 0
}
