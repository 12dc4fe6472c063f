package spec

import (
	"maps"
	"slices"

	"github.com/goccy/go-yaml/ast"
)

var (
	ruleKeys       = []string{"name", "check", "message", "fields", "code", "conflict", "on", "violated_by"}
	effectKeys     = []string{"name", "on", "when", "each", "update", "id", "set"}
	actionKeys     = []string{"access", "input", "steps", "go"}
	stepKeys       = []string{"set", "create", "values", "update", "delete", "id", "assert", "code", "message", "when"}
	transitionKeys = []string{"from", "to", "roles", "when"}
	rollupFuncs    = []string{"sum", "count", "min", "max"}
	operations     = []string{string(OpCreate), string(OpUpdate), string(OpDelete)}
)

// expr reads a CEL expression scalar.
func (w *walker) expr(n ast.Node, what string) Expr {
	return Expr{Pos: w.pos(n), Text: w.str(n, what)}
}

func (w *walker) operations(n ast.Node, what string) []Operation {
	var out []Operation
	for _, item := range w.list(n, what) {
		s := w.str(item, what)
		if !slices.Contains(operations, s) {
			w.add(w.pos(item), "%s: %q is not create, update or delete%s", what, s, didYouMean(s, operations))
			continue
		}
		out = append(out, Operation(s))
	}
	return out
}

// named is how an error names key of a named rule or effect: "rule in_stock: on", as the
// validation errors name it, or "rule.on" when it has no name.
func named(what, name, key string) string {
	if name == "" {
		return what + "." + key
	}
	return what + " " + name + ": " + key
}

// assignments reads a mapping of field: CEL expression, in order.
func (w *walker) assignments(n ast.Node, what string) []Assignment {
	entries, _ := w.mapping(n, what)
	out := make([]Assignment, 0, len(entries))
	for _, e := range entries {
		out = append(out, Assignment{Pos: e.pos, Field: e.key, Value: w.expr(e.value, what+"."+e.key)})
	}
	return out
}

func (w *walker) logicRules(n ast.Node, res string) []*LogicRule {
	var out []*LogicRule
	for _, item := range w.list(n, "rules of "+res) {
		r := &LogicRule{Pos: w.pos(item)}
		r.NamePos = r.Pos
		entries, _ := w.mapping(item, "rule", ruleKeys...)
		var on ast.Node
		for _, e := range entries {
			what := "rule." + e.key
			switch e.key {
			case "name":
				r.Name, r.NamePos = w.str(e.value, what), w.pos(e.value)
			case "check":
				r.Check = w.expr(e.value, what)
			case "message":
				r.Message = w.str(e.value, what)
			case "fields":
				r.Fields = w.strings(e.value, what)
			case "code":
				r.Code = w.str(e.value, what)
			case "conflict":
				r.Conflict = w.boolean(e.value, what)
			case "on":
				on = e.value // read once the name is known, which the errors give
			case "violated_by":
				r.ViolatedBy = w.sample(e.value, what)
			}
		}
		if on != nil {
			r.On = w.operations(on, named("rule", r.Name, "on"))
		}
		if !r.Check.Set() {
			w.add(r.Pos, "a rule needs check: <CEL condition>")
		}
		out = append(out, r)
	}
	return out
}

func (w *walker) effects(n ast.Node, res string) []*Effect {
	var out []*Effect
	for _, item := range w.list(n, "effects of "+res) {
		ef := &Effect{Pos: w.pos(item)}
		ef.NamePos = ef.Pos
		entries, _ := w.mapping(item, "effect", effectKeys...)
		var on ast.Node
		for _, e := range entries {
			what := "effect." + e.key
			switch e.key {
			case "name":
				ef.Name, ef.NamePos = w.str(e.value, what), w.pos(e.value)
			case "on":
				on = e.value // read once the name is known, which the errors give
			case "when":
				ef.When = w.expr(e.value, what)
			case "each":
				ef.Each = w.str(e.value, what)
			case "update":
				ef.Update = w.str(e.value, what)
			case "id":
				ef.ID = w.expr(e.value, what)
			case "set":
				ef.Set = w.assignments(e.value, what)
			}
		}
		if on != nil {
			ef.On = w.operations(on, named("effect", ef.Name, "on"))
		}
		if ef.Update == "" || !ef.ID.Set() || len(ef.Set) == 0 {
			w.add(ef.Pos, "an effect needs update: <resource>, id: <CEL> and set: {field: <CEL>}")
		}
		out = append(out, ef)
	}
	return out
}

func (w *walker) actions(n ast.Node, res string) []*RecordAction {
	entries, _ := w.mapping(n, "actions of "+res)
	out := make([]*RecordAction, 0, len(entries))
	for _, e := range entries {
		a := &RecordAction{Pos: e.pos, Name: e.key, byName: map[string]*Field{}}
		parts, _ := w.mapping(e.value, "action "+e.key, actionKeys...)
		for _, p := range parts {
			switch p.key {
			case "access":
				a.Access = w.rule(entry{key: "action " + e.key, pos: p.pos, value: p.value})
			case "input":
				fields, _ := w.mapping(p.value, "input of action "+e.key)
				for _, fe := range fields {
					f := w.field(fe)
					a.Input = append(a.Input, f)
					a.byName[f.Name] = f
				}
			case "steps":
				for _, item := range w.list(p.value, "steps of action "+e.key) {
					a.Steps = append(a.Steps, w.step(item))
				}
			case "go":
				a.Go = w.boolean(p.value, "action "+e.key+".go")
			}
		}
		if a.Access == nil {
			w.add(a.Pos, "action %s needs access: (public, a list of roles, or a CEL expression)", a.Name)
		}
		if a.Go == (len(a.Steps) > 0) {
			w.add(a.Pos, "action %s needs steps:, or go: true for an action written in Go (not both)", a.Name)
		}
		out = append(out, a)
	}
	return out
}

func (w *walker) step(n ast.Node) *Step {
	st := &Step{Pos: w.pos(n)}
	entries, _ := w.mapping(n, "step", stepKeys...)
	kinds := 0
	for _, e := range entries {
		what := "step." + e.key
		switch e.key {
		case "set":
			st.Set, kinds = w.assignments(e.value, what), kinds+1
		case "create":
			st.Create, kinds = w.str(e.value, what), kinds+1
		case "update":
			st.Update, kinds = w.str(e.value, what), kinds+1
		case "delete":
			st.Delete, kinds = w.str(e.value, what), kinds+1
		case "assert":
			st.Assert, kinds = w.expr(e.value, what), kinds+1
		case "values":
			st.Values = w.assignments(e.value, what)
		case "id":
			st.ID = w.expr(e.value, what)
		case "code":
			st.Code = w.str(e.value, what)
		case "message":
			st.Message = w.str(e.value, what)
		case "when":
			st.When = w.expr(e.value, what)
		}
	}
	if kinds != 1 {
		w.add(st.Pos, "a step is one of set:, create:, update:, delete: or assert:")
	}
	return st
}

func (w *walker) transitions(f *Field, n ast.Node) {
	for _, item := range w.list(n, f.Name+".transitions") {
		f.Transitions = append(f.Transitions, w.transition(f, item)...)
	}
}

// transition reads one entry of transitions: one transition, or one per state a list in to:
// names (as a list in from: is one transition from each), each placed at its state.
func (w *walker) transition(f *Field, item ast.Node) []*Transition {
	t := &Transition{Pos: w.pos(item), KeyPos: map[string]Pos{}}
	var tos []string
	toPos := map[string]Pos{}
	entries, _ := w.mapping(item, "transition", transitionKeys...)
	for _, e := range entries {
		what := f.Name + ".transitions." + e.key
		switch e.key {
		case "from":
			if _, isList := unwrap(e.value).(*ast.SequenceNode); isList {
				t.From = w.stringsAt(e.value, what, t.KeyPos, "from")
			} else {
				t.From, t.KeyPos[keyIndex("from", 0)] = []string{w.str(e.value, what)}, w.pos(e.value)
			}
		case "to":
			if _, isList := unwrap(e.value).(*ast.SequenceNode); isList {
				tos = w.stringsAt(e.value, what, toPos, "to")
			} else {
				tos, toPos[keyIndex("to", 0)] = []string{w.str(e.value, what)}, w.pos(e.value)
			}
		case "roles":
			t.Roles = w.stringsAt(e.value, what, t.KeyPos, "roles")
		case "when":
			t.When = w.expr(e.value, what)
		}
	}
	if len(tos) == 0 {
		return []*Transition{t} // no to: validation says so at the entry
	}
	out := make([]*Transition, len(tos))
	for i, to := range tos {
		c := *t
		c.KeyPos = maps.Clone(t.KeyPos)
		c.To, c.KeyPos["to"] = to, toPos[keyIndex("to", i)]
		out[i] = &c
	}
	return out
}

func (w *walker) rollup(f *Field, n ast.Node) {
	r := &Rollup{Pos: w.pos(n)}
	entries, _ := w.mapping(n, f.Name+".rollup", "sum", "count", "min", "max", "of", "where")
	for _, e := range entries {
		switch e.key {
		case "of":
			r.Of = w.str(e.value, f.Name+".rollup.of")
			continue
		case "where":
			r.Where = w.expr(e.value, f.Name+".rollup.where")
			continue
		}
		if r.Func != "" {
			w.add(e.pos, "%s.rollup takes one of %v", f.Name, rollupFuncs)
		}
		r.Func = e.key
		if e.key != "count" {
			r.Field = w.str(e.value, f.Name+".rollup."+e.key)
		}
	}
	if r.Func == "" || r.Of == "" {
		w.add(r.Pos, "%s.rollup needs of: <inverse relation> and one of sum: <field>, min:, max: or count: true", f.Name)
	}
	f.Rollup = r
}

// sample reads a mapping of field: scalar value, in order.
func (w *walker) sample(n ast.Node, what string) []Sample {
	entries, _ := w.mapping(n, what)
	out := make([]Sample, 0, len(entries))
	for _, e := range entries {
		v, null, ok := w.scalar(e.value, what+"."+e.key)
		switch {
		case ok && null:
			w.add(w.pos(e.value), "%s: %s is null: give the value that breaks the rule, which the derived suite sends", what, e.key)
		case ok:
			out = append(out, Sample{Field: e.key, Value: v, Pos: e.pos, ValuePos: w.pos(e.value)})
		}
	}
	return out
}
