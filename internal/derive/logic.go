package derive

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/spec"
)

// startState is the state derived records start in: the first initial state, or the first
// value when the machine may start anywhere. (Not the field's example: action plans search
// from the start state, and one that is further along leaves actions before it underived.)
func startState(f *spec.Field) string {
	if len(f.Initial) > 0 {
		return f.Initial[0]
	}
	return f.Values[0]
}

// allows reports whether the machine has a transition from → to (for any role or guard).
func allows(f *spec.Field, from, to string) bool {
	for _, t := range f.Transitions {
		if t.To == to && (slices.Contains(t.From, from) || slices.Contains(t.From, "*")) {
			return true
		}
	}
	return false
}

// stateCases: on a record of its own, each state machine refuses a change it does not list
// (409 invalid_transition, nothing changed) and makes one it lists for the file's role.
func (g *gen) stateCases(f *tfile, rs *recordSet) []string {
	var gaps []string
	for _, fld := range rs.r.Fields {
		if len(fld.Transitions) == 0 || !settable(fld) {
			continue
		}
		from := startState(fld)
		name := fld.Name + "_machine_record"
		rs.create(name, 7, g.maker(rs.r, f.as))
		path := g.collection(rs.r) + "/{" + name + ".response.id}"
		if to, ok := refusedState(fld, from); ok {
			held := yaml.MapSlice{{Key: "id", Value: "{" + name + ".response.id}"}, {Key: fld.Name, Value: from}}
			f.add(&tcase{name: fld.Name + "_transition_refused", path: path, body: yaml.MapSlice{{Key: fld.Name, Value: to}},
				comment: fmt.Sprintf("%s → %s is not a transition of %s", from, to, fld.Name),
				expect:  want(409).code("invalid_transition").countWhere(rs.r.Name, held, 1)})
		}
		if t, role, ok := g.roleRefused(rs.r, fld, from); ok {
			held := yaml.MapSlice{{Key: "id", Value: "{" + name + ".response.id}"}, {Key: fld.Name, Value: from}}
			f.add(&tcase{name: fld.Name + "_transition_refused_for_" + role, as: other(role, f.as), path: path,
				body:    yaml.MapSlice{{Key: fld.Name, Value: t.To}},
				comment: fmt.Sprintf("only %s may change %s from %s to %s", strings.Join(t.Roles, ", "), fld.Name, from, t.To),
				expect:  want(409).code("invalid_transition").countWhere(rs.r.Name, held, 1)})
		}
		t := allowedTransition(fld, from, f.as)
		if t == nil {
			gaps = append(gaps, fmt.Sprintf("%s: no unguarded transition from %s that %s may make", fld.Name, from, orAnyone(f.as)))
			continue
		}
		f.add(&tcase{name: fld.Name + "_transition_allowed", path: path, body: yaml.MapSlice{{Key: fld.Name, Value: t.To}},
			comment: fmt.Sprintf("%s → %s is a transition of %s", from, t.To, fld.Name), expect: want(200).has(fld.Name, t.To)})
	}
	return gaps
}

// roleRefused finds a transition out of from that names its roles, and a role that may update
// every record and write the field but is not among them (nor let through by another
// transition to the same state): its PATCH to that state is refused.
func (g *gen) roleRefused(r *spec.Resource, f *spec.Field, from string) (*spec.Transition, string, bool) {
	update := g.access(r, spec.ActionUpdate)
	for _, t := range f.Transitions {
		if len(t.Roles) == 0 || t.To == from || !(slices.Contains(t.From, from) || slices.Contains(t.From, "*")) {
			continue
		}
		for _, role := range update.with(allowed) {
			if patchable(f, role) && !transition(f, from, t.To, role, true) {
				return t, role, true
			}
		}
	}
	return nil, "", false
}

// maker is who creates a record of r in a file run as role: role when it may create every
// such record, else the first role that may ("" when none) — of those that can link every
// required relation of r (hidden.go).
func (g *gen) maker(r *spec.Resource, role string) string {
	create := g.access(r, spec.ActionCreate)
	if create.grants[role] == allowed && g.blockedLink(r, role) == nil {
		return role
	}
	for _, first := range create.roles {
		if create.grants[first] == allowed && g.blockedLink(r, first) == nil {
			return first
		}
	}
	return ""
}

// initialCases: a state machine with initial states refuses a record that starts elsewhere.
func initialCases(f *tfile, r *spec.Resource, valid yaml.MapSlice, check func(*expect) *expect) {
	if check == nil {
		check = func(e *expect) *expect { return e }
	}
	for _, fld := range r.Fields {
		if len(fld.Initial) == 0 || !settable(fld) {
			continue
		}
		for _, v := range fld.Values {
			if !slices.Contains(fld.Initial, v) {
				f.add(&tcase{name: fld.Name + "_not_initial", body: with(valid, fld.Name, v, false),
					comment: fmt.Sprintf("a record starts as %s, not %s", strings.Join(fld.Initial, " or "), v),
					expect:  check(want(409).code("invalid_transition"))})
				break
			}
		}
	}
}

// refusedState is a state the machine cannot reach from from.
func refusedState(f *spec.Field, from string) (string, bool) {
	for _, v := range f.Values {
		if v != from && !allows(f, from, v) {
			return v, true
		}
	}
	return "", false
}

func allowedTransition(f *spec.Field, from, role string) *spec.Transition {
	for _, t := range f.Transitions {
		if (slices.Contains(t.From, from) || slices.Contains(t.From, "*")) && t.To != from && !t.When.Set() && (len(t.Roles) == 0 || slices.Contains(t.Roles, role)) {
			return t
		}
	}
	return nil
}

func orAnyone(role string) string {
	if role == "" {
		return "anyone"
	}
	return role
}

// ruleCases: every rule that applies to op and names the values that break it gets a case
// sending them (the rule's answer, nothing written); a rule without violated_by is a gap.
// A rule about stored state is broken on a fresh body (one no earlier record clashes with),
// so its own code is the answer; other rules on valid, as the other field violations are.
func (g *gen) ruleCases(f *tfile, r *spec.Resource, op spec.Operation, valid yaml.MapSlice, fresh func(int) yaml.MapSlice, path string, check func(*expect) *expect) []string {
	var gaps []string
	for _, rl := range r.Rules {
		if !spec.Applies(rl.On, op) {
			continue
		}
		switch {
		case op == spec.OpDelete:
			gaps = append(gaps, fmt.Sprintf("rule %s on delete: a delete sends no values to break it with", ruleLabel(rl)))
			continue
		case len(rl.ViolatedBy) == 0:
			gaps = append(gaps, fmt.Sprintf("rule %s on %s: no violated_by to derive a violating case from", ruleLabel(rl), op))
			continue
		}
		b, reset, e := ruleBreak(r, rl, op, valid, fresh)
		if check != nil {
			e = check(e)
		}
		e = ruleBreakChecks(r, rl, reset, op, e)
		method := ""
		if op == spec.OpUpdate {
			method = "PATCH"
		}
		f.add(&tcase{name: "rule_" + ruleLabel(rl) + "_violated", method: method, path: path, body: b, expect: e,
			comment: "the rule " + ruleLabel(rl) + " refuses: " + rl.Check.Text})
	}
	return gaps
}

// ruleBreak is the body of the case breaking rl on op — valid (nothing on update, a fresh
// one for a conflict) with rl's violated_by values, the values a has() test is satisfied by
// left out (cleared by a PATCH), and the numbers and dates it reads at their examples — and
// the answer that case expects; reset are the values set back to their examples.
func ruleBreak(r *spec.Resource, rl *spec.LogicRule, op spec.Operation, valid yaml.MapSlice, fresh func(int) yaml.MapSlice) (b, reset yaml.MapSlice, e *expect) {
	b = valid
	switch {
	case op == spec.OpUpdate:
		b = yaml.MapSlice{}
	case rl.Conflict && fresh != nil:
		b = fresh(6)
	}
	for _, smp := range rl.ViolatedBy {
		b = with(b, smp.Field, sampleValue(r.Field(smp.Field), smp.Value), false)
	}
	for _, name := range absentToBreak(r, rl) {
		b = with(b, name, nil, op != spec.OpUpdate) // a PATCH clears it, a create leaves it out
	}
	if !rl.Conflict {
		b, reset = atExamples(r, rl, b, op == spec.OpUpdate)
	}
	e = want(400).code("validation_failed")
	if rl.Conflict {
		e = want(409).code(rl.Code)
	} else if len(rl.Fields) > 0 {
		e.field(rl.Fields[0], rl.Code)
	}
	return b, reset, e
}

// ruleBreakChecks adds to e what the runner checks of the case breaking rl: nothing written
// with the values reset set back to their examples, and the implied field check turned off
// when the case changes fields rl's errors do not name.
func ruleBreakChecks(r *spec.Resource, rl *spec.LogicRule, reset yaml.MapSlice, op spec.Operation, e *expect) *expect {
	if namesOthers(rl, absentToBreak(r, rl), op == spec.OpUpdate) {
		// the rule names its own fields, not each value the case sends to break it
		e.loose = true
	}
	if len(reset) == 0 {
		return e
	}
	// nothing was written with them: the fields set back are no intended violation (the
	// runner's implied check wants every changed field named otherwise)
	where := slices.Clone(reset)
	for _, smp := range rl.ViolatedBy {
		where = append(where, yaml.MapItem{Key: smp.Field, Value: sampleValue(r.Field(smp.Field), smp.Value)})
	}
	return e.countWhere(r.Name, where, 0)
}

// namesOthers reports whether the case breaking rl changes a field the rule's errors do not
// name: a violated_by field outside its fields (a rule on fee broken by priority: urgent), or
// one a PATCH clears (absentToBreak).
func namesOthers(rl *spec.LogicRule, cleared []string, patch bool) bool {
	if len(rl.Fields) == 0 {
		return false
	}
	for _, s := range rl.ViolatedBy {
		if !slices.Contains(rl.Fields, s.Field) {
			return true
		}
	}
	return patch && slices.ContainsFunc(cleared, func(f string) bool { return !slices.Contains(rl.Fields, f) })
}

// atExamples sets the fields a rule reads besides its violated_by back to their examples
// (variant 0), where later bodies move them: a violated_by value is written against the
// examples (ends_at a day after the example starts_at breaks "at most 12 hours"), while
// create_valid's body and put_valid's record have moved every date by days and numbers up
// by units — so the value sent as written met a moved starts_at, and broke another rule or
// none. Only dates, date-times and numbers move; a field under a unique index keeps its
// moved value (its example may be another record's). A PATCH (patch: the body holds only
// the violated_by fields) sends them too.
func atExamples(r *spec.Resource, rl *spec.LogicRule, b yaml.MapSlice, patch bool) (yaml.MapSlice, yaml.MapSlice) {
	var reset yaml.MapSlice
	set := map[string]bool{}
	for _, smp := range rl.ViolatedBy {
		set[smp.Field] = true
	}
	for _, f := range r.Fields {
		if set[f.Name] || !writable(r, f) || uniqueOn(r, f.Name) || !readsOwn(rl, f.Name) {
			continue
		}
		if !numeric(f) && f.Type != spec.TypeDate && f.Type != spec.TypeDatetime {
			continue
		}
		if !patch && !slices.ContainsFunc(b, func(it yaml.MapItem) bool { return it.Key == f.Name }) {
			continue
		}
		v := variant(f, 0, "", nil)
		if sameItem(b, f.Name, v) {
			continue
		}
		b = with(b, f.Name, v, false)
		reset = append(reset, yaml.MapItem{Key: f.Name, Value: v})
	}
	return b, reset
}

// atExampleValues sets b's numbers and dates back to r's examples (variant 0), but for fields
// under a unique index (their examples may be another record's).
func atExampleValues(r *spec.Resource, b yaml.MapSlice) yaml.MapSlice {
	for _, f := range r.Fields {
		if !numeric(f) && f.Type != spec.TypeDate && f.Type != spec.TypeDatetime {
			continue
		}
		if writable(r, f) && !uniqueOn(r, f.Name) && slices.ContainsFunc(b, func(it yaml.MapItem) bool { return it.Key == f.Name }) {
			b = with(b, f.Name, variant(f, 0, "", nil), false)
		}
	}
	return b
}

// sameItem reports whether b holds field with the value v already.
func sameItem(b yaml.MapSlice, field string, v any) bool {
	for _, it := range b {
		if it.Key == field {
			return fmt.Sprint(it.Value) == fmt.Sprint(v)
		}
	}
	return false
}

func ruleLabel(rl *spec.LogicRule) string {
	if rl.Name != "" {
		return rl.Name
	}
	return fmt.Sprintf("at_line_%d", rl.Pos.Line)
}

// sampleValue types a spec sample like a decoded JSON value.
func sampleValue(f *spec.Field, v string) any {
	switch f.Type {
	case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
		return plainNumber(v)
	case spec.TypeBoolean:
		return v == "true"
	}
	return v
}

// actionFile: a record action runs for the roles its rule lets through (their own records for
// rules by owner), answers 404 for unknown ids and other accounts' records, 401 without
// credentials, and — when it moves a state machine — 409 when run again from the new state.
func (g *gen) actionFile(r *spec.Resource, a *spec.RecordAction) (*tfile, string) {
	acc := g.access(r, spec.Action("action:"+a.Name))
	actor, runs := g.runner(r, a, acc) // runs: a role allowed on every record, or anyone
	if !runs && len(acc.with(rowOnly)) == 0 {
		return nil, "no role may run " + a.Name
	}
	maker, ok := g.makerOf(r)
	if !ok {
		return nil, g.noMaker(r, "no role may create the "+r.Name+" record to run "+a.Name+" on")
	}
	f := &tfile{name: r.Name + "." + a.Name + ".test.yaml", as: actor,
		title:    "The " + a.Name + " action on " + r.Name + ": who may run it, on which records, and what it changes.",
		endpoint: "POST " + g.collection(r) + "/{record.response.id}/" + a.Name}
	rs, gap := g.newRecordSet(f, r)
	if gap != "" {
		return nil, gap
	}
	input := body(a.InputResource(r.Name), 1, "{unique}1", rs.ref)
	var in any = input
	if len(input) == 0 {
		in = nil
	}
	rs.record = rs.makeRecord(1, maker)
	g.credentialCases(f, acc, in)
	g.wrongRoleCases(f, acc, in, nil)
	f.add(&tcase{name: "unknown_id", path: g.collection(r) + "/" + unknownID + "/" + a.Name, body: in, expect: want(404).code("not_found")})
	if required := requiredInput(a); required != "" {
		f.add(&tcase{name: "input_missing", comment: "the action's input is validated like a resource's", body: yaml.MapSlice{},
			expect: want(400).code("validation_failed").field(required, "required")})
	}
	if len(input) > 0 {
		// every constraint of the input, as a resource's: each a 400 naming the field
		g.violationCases(f, a.InputResource(r.Name), input, false, func(e *expect) *expect { return e })
	}
	var gaps []string
	for _, role := range acc.with(rowOnly) {
		if gap := g.ownActionCases(f, rs, a, role, in); gap != "" {
			gaps = append(gaps, gap)
		}
	}
	if !runs {
		return f, strings.Join(gaps, "; ")
	}
	fld, moves, ok := g.statePlan(r, a, actor)
	if !ok {
		gaps = append(gaps, unreachable("its run case", r, a, fld, actor))
		return f, strings.Join(gaps, "; ")
	}
	g.addMoves(f, "record", g.collection(r)+"/{record.response.id}", fld, moves, fromWhereItRuns)
	e := want(200).key("id")
	for _, set := range literalSets(a) {
		e.has(set.Field, set.Value)
	}
	f.add(&tcase{name: "run", comment: "the action runs and answers with the record", body: in, expect: e})
	if code, comment, ok := runAgain(r, a); ok {
		f.add(&tcase{name: "run_again", comment: comment, body: in, expect: want(409).code(code)})
	}
	return f, strings.Join(gaps, "; ")
}

func unreachable(what string, r *spec.Resource, a *spec.RecordAction, f *spec.Field, role string) string {
	if blindAsserts(r, a) {
		return what + ": an assert reads a computed or rolled-up value, which is not taken to hold"
	}
	from := createdState(r, f)
	msg := fmt.Sprintf("%s: no state of %s from which %s may run it can be reached from %s", what, f.Name, orAnyone(role), from)
	if slices.ContainsFunc(f.Transitions, func(t *spec.Transition) bool { return blindGuard(r, t) }) {
		msg += " (a guard that reads a computed or rolled-up value is not taken to hold)"
	}
	return msg
}

// ownActionCases: a role whose rule selects its own records runs the action on its own record,
// and a second account of the role cannot reach it.
// It returns a gap when no state to run the action from can be reached on that record.
func (g *gen) ownActionCases(f *tfile, rs *recordSet, a *spec.RecordAction, role string, in any) string {
	name, account, made := g.ownActionRecord(f, rs, a, role)
	if name == "" {
		return rs.othersOnly(spec.Action("action:"+a.Name), role)
	}
	record := g.collection(rs.r) + "/{" + name + ".response.id}"
	path := record + "/" + a.Name
	if !rs.selectsOthersIn(made, spec.Action("action:"+a.Name), role) {
		// a rule that also selects records by what they hold (a public note) lets a second
		// account of the role run it, which would change the record: no case then
		if e := rs.refusedOthers(made, spec.Action("action:"+a.Name), role); e != nil {
			f.add(&tcase{name: "other_account_as_" + role, as: role + ":other", path: path, body: in,
				comment: "another " + role + " account does not reach this record", expect: e})
		}
	}
	fld, moves, ok := g.statePlan(rs.r, a, role)
	if !ok {
		return unreachable("its case on "+role+"'s own record", rs.r, a, fld, role)
	}
	g.addMoves(f, name, record, fld, moves, fromWhereItRuns)
	f.add(&tcase{name: "own_record_as_" + role, as: account, path: path, body: in,
		comment: role + " runs the action on its own record", expect: want(200).key("id")})
	return ""
}

// ownActionRecord makes role's own record for the action and returns its case name and the
// account that made it: made by role when role may create any record (own_record_of_<role>),
// as its own (ownRecord's owned_by_<role>) when it may create only its own (a student's
// enrollment). None ("") when role may create none, or when the action's rule does not select
// the record role makes (selectsOwn: a student approves the enrollments of sections it
// teaches, not its own).
func (g *gen) ownActionRecord(f *tfile, rs *recordSet, a *spec.RecordAction, role string) (name, account string, made yaml.MapSlice) {
	if g.blockedLink(rs.r, role) != nil || !rs.selectsOwn(spec.Action("action:"+a.Name), role) {
		return "", "", nil // the role cannot link a required relation, or its rule selects others' records
	}
	switch g.access(rs.r, spec.ActionCreate).grants[role] {
	case allowed:
		name = "own_record_of_" + role
		return name, role, rs.create(name, 8, role)
	case rowOnly:
		path, account, made := g.ownRecord(f, rs, role)
		if path == "" {
			return "", "", nil
		}
		name = strings.TrimSuffix(strings.TrimPrefix(path, g.collection(rs.r)+"/{"), ".response.id}")
		return name, account, made
	}
	return "", "", nil
}

func requiredInput(a *spec.RecordAction) string {
	for _, fld := range a.Input {
		if fld.Required && !fld.HasDefault {
			return fld.Name
		}
	}
	return ""
}

// literalSets are the fields the action's set steps give constant text ('cancelled'), in order.
func literalSets(a *spec.RecordAction) []spec.Sample {
	var out []spec.Sample
	for _, st := range a.Steps {
		for _, as := range st.Set {
			if v, ok := as.Value.StringLiteral(); ok {
				out = append(out, spec.Sample{Field: as.Field, Value: v})
			}
		}
	}
	return out
}

// repeatRefused finds a state machine the action sets to constant text: a second run would
// set the state the record is in, which the server refuses (an action is a move), whatever
// transitions the machine lists.
func repeatRefused(r *spec.Resource, a *spec.RecordAction) (string, string, bool) {
	for _, set := range literalSets(a) {
		f := r.Field(set.Field)
		if f != nil && len(f.Transitions) > 0 {
			return set.Field, set.Value, true
		}
	}
	return "", "", false
}
