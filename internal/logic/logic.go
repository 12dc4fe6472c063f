// Package logic compiles and runs the business logic a spec declares next to its data:
// rules over record, old, auth and now (with cross-record functions that read other
// records in the write's transaction through the CEL→SQL translation), computed fields and
// CEL defaults, state machines, effects on other records and action steps. Everything is
// type-checked when the spec loads; evaluation happens inside the write's transaction.
package logic

import (
	"fmt"

	"cel.dev/cel-go/cel"

	"github.com/kiln-dev/kiln/internal/spec"
)

// Logic is the compiled business logic of a spec.
type Logic struct {
	resources  map[string]*Resource
	updates    map[string]*ScheduleUpdate // by job kind
	conditions *conditions
}

// Resource is the compiled logic of one resource.
type Resource struct {
	Spec     *spec.Resource
	rules    []*rule
	defaults []*assign
	computed []*assign
	states   []*stateMachine
	effects  []*effect
	actions  map[string][]*step
	triggers []*trigger
	// Parents lists the to-one relations whose targets keep rollups over this resource.
	Parents []*RollupParent
	// Gets names the resources the checks before a write read with get() (or by following a
	// relation): its rules, defaults, computed fields and transition guards.
	Gets map[string]bool
	// Reads says those checks read other records at all (get, count, exists, aggregates): on
	// PostgreSQL they lock what they read.
	Reads bool
	// checkLocks names the resources those checks lock records of: what get() reads, and the
	// parents a count, exists or aggregate filter pins down (member == record.member).
	checkLocks map[string]bool
	// lockedAfter is LockedAfter's answer by operation, computed once.
	lockedAfter map[spec.Operation][]*spec.Field
}

type rule struct {
	spec  *spec.LogicRule
	check *program
}

type assign struct {
	field *spec.Field
	prog  *program
}

// Compile type-checks every expression of the spec; problems carry their positions.
func Compile(s *spec.Spec) (*Logic, error) {
	e, err := newEnvs(s)
	if err != nil {
		return nil, err
	}
	c := &compiler{envs: e, spec: s}
	l := &Logic{resources: map[string]*Resource{}, updates: map[string]*ScheduleUpdate{}}
	for _, r := range s.Resources {
		l.resources[r.Name] = c.resource(r, l.updates)
	}
	c.schedules(l.updates)
	l.conditions = c.webhookConditions()
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	return l, nil
}

// Resource returns the compiled logic of a resource.
func (l *Logic) Resource(name string) *Resource { return l.resources[name] }

type compiler struct {
	envs     *envs
	spec     *spec.Spec
	problems spec.Errors
}

func (c *compiler) fail(pos spec.Pos, format string, args ...any) {
	c.problems = append(c.problems, spec.Problem{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

// program compiles one expression of the spec, reporting a problem at its position.
func (c *compiler) program(sc scope, e spec.Expr, want *cel.Type, what string) *program {
	if !e.Set() {
		return nil
	}
	p, err := c.envs.build(sc, e.Text, want, true)
	if err != nil {
		c.fail(e.Pos, "%s: %v", what, err)
		return nil
	}
	return p
}

func (c *compiler) resource(r *spec.Resource, updates map[string]*ScheduleUpdate) *Resource {
	out := &Resource{Spec: r, actions: map[string][]*step{}}
	sc := scope{resource: r.Name}
	for _, sr := range r.Rules {
		if p := c.program(sc, sr.Check, cel.BoolType, "rule "+ruleName(sr)); p != nil {
			out.rules = append(out.rules, &rule{spec: sr, check: p})
		}
	}
	for _, f := range r.Fields {
		want := fieldCELType(f)
		if p := c.program(sc, f.DefaultExpr, want, "field "+f.Name+" default_expr"); p != nil {
			out.defaults = append(out.defaults, &assign{field: f, prog: p})
		}
		if p := c.program(sc, f.Compute, want, "field "+f.Name+" compute"); p != nil {
			out.computed = append(out.computed, &assign{field: f, prog: p})
		}
		if len(f.Transitions) > 0 || len(f.Initial) > 0 {
			out.states = append(out.states, c.stateMachine(sc, f))
		}
	}
	out.computed = c.orderComputed(out.computed)
	for _, ef := range r.Effects {
		if e := c.effect(r, ef); e != nil {
			out.effects = append(out.effects, e)
		}
	}
	for _, a := range r.Actions {
		out.actions[a.Name] = c.steps(r, a)
	}
	out.Parents = c.rollupParents(r)
	out.triggers = c.triggers(r, updates)
	out.Gets = out.gets()
	out.checkLocks = out.lockedByChecks()
	out.lockedAfter = map[spec.Operation][]*spec.Field{}
	for _, op := range []spec.Operation{spec.OpCreate, spec.OpUpdate, spec.OpDelete} {
		out.lockedAfter[op] = out.computeLockedAfter(op)
	}
	for _, p := range out.checks() {
		out.Reads = out.Reads || len(siteList(p)) > 0
	}
	return out
}

// checks are the programs that run before a write: rules, defaults, computed fields and
// transition guards.
func (r *Resource) checks() []*program {
	var ps []*program
	for _, x := range r.rules {
		ps = append(ps, x.check)
	}
	for _, a := range append(append([]*assign(nil), r.defaults...), r.computed...) {
		ps = append(ps, a.prog)
	}
	for _, sm := range r.states {
		for _, t := range sm.transitions {
			ps = append(ps, t.when)
		}
	}
	return ps
}

func (r *Resource) gets() map[string]bool {
	out := map[string]bool{}
	for _, p := range r.checks() {
		for _, s := range siteList(p) {
			if s.kind == siteGet {
				out[s.resource] = true
			}
		}
	}
	return out
}

func (r *Resource) lockedByChecks() map[string]bool {
	out := map[string]bool{}
	for _, p := range r.checks() {
		for _, s := range siteList(p) {
			if s.kind == siteGet {
				out[s.resource] = true
			} else if s.where != nil {
				for _, l := range s.where.locks {
					out[l.resource] = true
				}
			}
		}
	}
	return out
}

func siteList(p *program) []*site {
	if p == nil {
		return nil
	}
	return p.sites
}

// ruleWhat names a rule in a message: "the rule stock_left", or "a rule" without a name.
func ruleWhat(r *spec.LogicRule) string {
	if r.Name != "" {
		return "the rule " + r.Name
	}
	return "a rule"
}

func ruleName(r *spec.LogicRule) string {
	if r.Name != "" {
		return r.Name
	}
	return "(unnamed)"
}

// assignments compiles field: expression pairs for resource target.
func (c *compiler) assignments(sc scope, target *spec.Resource, set []spec.Assignment, what string) []*assign {
	var out []*assign
	for _, a := range set {
		f := target.Field(a.Field)
		if f == nil {
			continue // spec validation reported it
		}
		if p := c.program(sc, a.Value, fieldCELType(f), what+"."+a.Field); p != nil {
			out = append(out, &assign{field: f, prog: p})
		}
	}
	return out
}
