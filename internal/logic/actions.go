package logic

import (
	"context"
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"

	"github.com/kiln-dev/kiln/internal/spec"
)

// step is one compiled step of an action.
type step struct {
	spec   *spec.Step
	set    []*assign // on the action's record
	target *spec.Resource
	values []*assign // create and update
	id     *program
	assert *program
	when   *program // nil: always
}

func (c *compiler) steps(r *spec.Resource, a *spec.RecordAction) []*step {
	sc := scope{resource: r.Name, input: a.Name}
	if len(a.Input) == 0 {
		sc.input = ""
	}
	var out []*step
	what := "action " + a.Name
	for _, st := range a.Steps {
		s := &step{spec: st}
		if st.When.Set() {
			s.when = c.program(sc, st.When, cel.BoolType, what+" when")
		}
		switch {
		case len(st.Set) > 0:
			s.set = c.assignments(sc, r, st.Set, what+" set")
		case st.Assert.Set():
			s.assert = c.program(sc, st.Assert, cel.BoolType, what+" assert")
		default:
			s.target = c.spec.Resource(st.Create + st.Update + st.Delete)
			if s.target == nil {
				continue
			}
			s.values = c.assignments(sc, s.target, st.Values, what+" "+s.target.Name)
			s.id = c.program(sc, st.ID, cel.StringType, what+" id")
		}
		out = append(out, s)
	}
	return out
}

// StepKind says what a step does.
type StepKind int

// Step kinds.
const (
	StepSet StepKind = iota
	StepCreate
	StepUpdate
	StepDelete
	StepAssert
	StepSkip // its when: did not hold
)

// StepResult is one computed step, for the caller to apply through the write pipeline.
type StepResult struct {
	Kind     StepKind
	Resource string
	ID       string
	Values   map[string]any
	// Violation is set when an assert step does not hold.
	Violation *Violation
}

// Steps returns how many steps the action has (0 for an unknown or Go action).
func (r *Resource) Steps(action string) int { return len(r.actions[action]) }

// Step computes step i of an action with vars (the record as it stands after the steps
// before it).
func (r *Resource) Step(ctx context.Context, reader Reader, vars *Vars, action string, i int) (StepResult, error) {
	s := r.actions[action][i]
	if s.when != nil {
		ok, err := s.when.holds(ctx, reader, vars)
		if err != nil || !ok {
			return StepResult{Kind: StepSkip}, err
		}
	}
	switch {
	case s.set != nil:
		values, err := evalAssignments(ctx, reader, vars, r.Spec.Name, s.set)
		return StepResult{Kind: StepSet, Resource: r.Spec.Name, Values: values}, err
	case s.assert != nil:
		ok, err := s.assert.holds(ctx, reader, vars)
		var ee *EvalError
		if (err != nil && !errors.As(err, &ee)) || ok {
			return StepResult{Kind: StepAssert}, err
		}
		v := &Violation{Rule: "assert", Code: s.spec.Code, Message: messageOr(s.spec.Message, "an assertion of the action ("+s.spec.Code+")"), Conflict: true}
		if ee != nil {
			// as a rule that cannot be computed: the assert's own code, saying it could not be judged
			v.Message += " (the assert cannot be computed for this record: a value or a record it reads is missing)"
		}
		return StepResult{Kind: StepAssert, Violation: v}, nil
	}
	values, err := evalAssignments(ctx, reader, vars, s.target.Name, s.values)
	if err != nil {
		return StepResult{}, err
	}
	res := StepResult{Resource: s.target.Name, Values: values, Kind: StepCreate}
	if s.id != nil {
		idVal, err := s.id.eval(ctx, reader, vars)
		if err != nil {
			return StepResult{}, err
		}
		res.ID = fmt.Sprint(idVal.Value())
		res.Kind = StepUpdate
		if s.spec.Delete != "" {
			res.Kind = StepDelete
		}
	}
	return res, nil
}

// messageOr is a rule's or an assert's message, or, where the spec gives none, one naming what
// does not hold: never its expression, which is the spec's logic, not the client's to read.
func messageOr(msg, what string) string {
	if msg != "" {
		return msg
	}
	return what + " does not hold"
}
