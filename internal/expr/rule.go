package expr

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Auth is the principal as access rules see it (auth.id, auth.role, auth.roles).
type Auth struct {
	ID    string
	Role  string
	Roles []string
	Key   string // the API key's id, for requests made with one
}

// Rule is one compiled access rule.
type Rule struct {
	Public bool
	Roles  []string
	expr   celast.Expr // nil unless the rule is an expression
	fields *ruleFields
	// filters are the rule's exists() filters, parsed when the spec loads, by their text.
	filters map[string]celast.Expr
}

// ruleFields are the record fields a rule may use, with their kinds, and the fields of the
// records its to-one relations point at (record.loan.member).
type ruleFields struct {
	kinds  map[string]kind
	fields map[string]*spec.Field
	rels   map[string]*ruleFields
	name   string                 // the resource's
	all    map[string]*ruleFields // every resource's, for exists()
}

// linkRuleFields gives every resource's rule fields those of its to-one relations' targets.
func linkRuleFields(s *spec.Spec, all map[string]*ruleFields) {
	for _, r := range s.Resources {
		all[r.Name].all = all
		for _, f := range r.Fields {
			if f.Relation != nil && f.Relation.Kind == spec.RelToOne && f.Stored() && all[f.Relation.To] != nil {
				all[r.Name].rels[f.Name] = all[f.Relation.To]
			}
		}
	}
}

// Rules are the compiled access rules of a spec.
type Rules struct {
	byResource map[string]map[spec.Action]*Rule
}

// CompileRules type-checks every expression rule of s; problems carry the rule's position.
func CompileRules(s *spec.Spec) (*Rules, error) {
	env, err := cel.NewEnv(
		cel.Variable("auth", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("record", cel.MapType(cel.StringType, cel.DynType)),
		cel.Function("exists", cel.Overload("rule_exists_string_string",
			[]*cel.Type{cel.StringType, cel.StringType}, cel.BoolType)),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(MaxFilterLen),
		cel.ParserRecursionLimit(maxDepth*2))
	if err != nil {
		return nil, fmt.Errorf("cel rule env: %w", err)
	}
	out := &Rules{byResource: map[string]map[spec.Action]*Rule{}}
	var problems spec.Errors
	probe := &Auth{ID: "00000000-0000-7000-8000-000000000000", Role: "probe", Roles: s.Roles}
	all := map[string]*ruleFields{}
	for _, r := range s.Resources {
		all[r.Name] = newRuleFields(r)
	}
	linkRuleFields(s, all)
	for _, r := range s.Resources {
		fields := all[r.Name]
		out.byResource[r.Name] = map[spec.Action]*Rule{}
		for _, action := range slices.Concat(spec.Actions, actionKeys(r)) {
			sr := r.Access[action]
			if a := r.RecordAction(strings.TrimPrefix(string(action), ActionPrefix)); a != nil && strings.HasPrefix(string(action), ActionPrefix) {
				sr = a.Access
			}
			if sr == nil {
				continue
			}
			rule, err := compileRule(env, s, sr, fields, probe)
			if err != nil {
				problems = append(problems, spec.Problem{Pos: sr.Pos, Message: fmt.Sprintf("access.%s: %s", action, err)})
				continue
			}
			out.byResource[r.Name][action] = rule
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

// compileRule type-checks one rule and translates it once for a probe principal, so that a
// rule that cannot become a row condition is refused when the spec loads.
func compileRule(env *cel.Env, s *spec.Spec, sr *spec.Rule, fields *ruleFields, probe *Auth) (*Rule, error) {
	rule := &Rule{Public: sr.Public, Roles: sr.Roles, fields: fields}
	if sr.Expr == "" {
		return rule, nil
	}
	checked, iss := env.Compile(sr.Expr)
	if iss != nil && iss.Err() != nil {
		return nil, errors.New(logicOnly(cleanIssues(iss.Err().Error())))
	}
	rule.expr = checked.NativeRep().Expr()
	if err := CheckRoleTexts(checked.NativeRep(), s); err != nil {
		return nil, err
	}
	var err error
	if rule.filters, err = parseFilters(env, rule.expr); err != nil {
		return nil, err
	}
	if _, err := rule.Condition(probe); err != nil {
		return nil, err
	}
	return rule, nil
}

// ActionPrefix marks a resource's named actions among its access rules: action:cancel.
const ActionPrefix = "action:"

func actionKeys(r *spec.Resource) []spec.Action {
	out := make([]spec.Action, 0, len(r.Actions))
	for _, a := range r.Actions {
		out = append(out, spec.Action(ActionPrefix+a.Name))
	}
	return out
}

func newRuleFields(r *spec.Resource) *ruleFields {
	rf := &ruleFields{kinds: map[string]kind{"id": kindUUID, "created_at": kindTime, "updated_at": kindTime},
		fields: map[string]*spec.Field{}, rels: map[string]*ruleFields{}, name: r.Name}
	for _, f := range r.Fields {
		if k, ok := kindOf(f); ok {
			rf.kinds[f.Name], rf.fields[f.Name] = k, f
		}
	}
	return rf
}

// Rule returns the rule for an action, or nil when the spec declares none.
func (r *Rules) Rule(resource string, action spec.Action) *Rule {
	return r.byResource[resource][action]
}

// IsExpr reports whether the rule is a CEL expression.
func (r *Rule) IsExpr() bool { return r.expr != nil }

// Condition translates the rule for one principal into a row condition: auth's attributes
// become constants, record fields become columns. A rule about auth alone folds to
// query.And{} (allowed) or query.Or{} (denied).
func (r *Rule) Condition(a *Auth) (query.Cond, error) {
	if r.expr == nil {
		return query.And{}, nil
	}
	rt := ruleTranslator{fields: r.fields, auth: a, filters: r.filters}
	return rt.cond(r.expr, 0)
}

type ruleTranslator struct {
	fields  *ruleFields
	auth    *Auth
	filters map[string]celast.Expr
	// bare: inside an exists() filter, whose fields are the other resource's, named bare
	// (user == auth.id); record.<field> appears there only in the comparison tying the two.
	bare bool
}

func (t ruleTranslator) cond(e celast.Expr, depth int) (query.Cond, error) {
	if depth > maxDepth {
		return nil, errf("rule nests deeper than %d levels", maxDepth)
	}
	switch e.Kind() {
	case celast.LiteralKind:
		if b, ok := e.AsLiteral().Value().(bool); ok {
			return boolCond(b), nil
		}
	case celast.CallKind:
		return t.call(e.AsCall(), depth)
	case celast.SelectKind, celast.IdentKind:
		if e.Kind() == celast.SelectKind && e.AsSelect().IsTestOnly() {
			return t.has(e.AsSelect())
		}
		op, err := t.operand(e)
		if err != nil {
			return nil, err
		}
		if op.isVal {
			b, ok := op.value.(bool)
			if !ok {
				return nil, errf("a rule must be true or false")
			}
			return boolCond(b), nil
		}
		if op.on.kinds[op.field] == kindBool {
			return op.wrap(query.Compare{Field: op.field, Op: query.Eq, Value: true}), nil
		}
	}
	return nil, errf("rules support comparisons of record fields and auth attributes joined by &&, || and !")
}

// has translates has(auth.<attribute>), whether the principal has it (an API key has no
// auth.id, an account no auth.key), and has(record.<field>), whether the field holds a value
// (IS NOT NULL; record.loan.returned_at through to-one relations too).
func (t ruleTranslator) has(s celast.SelectExpr) (query.Cond, error) {
	var op operand
	var err error
	switch s.Operand().Kind() {
	case celast.SelectKind:
		op, err = t.pathOperand(s)
	case celast.IdentKind:
		op, err = t.selectOperand(s.Operand().AsIdent(), s.FieldName())
	default:
		err = errf("use has(record.<field>) or has(auth.<id|role|roles|key>)")
	}
	if err != nil {
		return nil, err
	}
	if op.isVal {
		return boolCond(!op.missing && (op.value != nil || len(op.list) > 0)), nil
	}
	if op.on.kinds[op.field] == kindLinks {
		return nil, errf("has() of %s, a list of links, always holds: test a link with auth.id in %s", op.name(), op.name())
	}
	return op.wrap(query.Compare{Field: op.field, Op: query.Ne}), nil
}

func boolCond(b bool) query.Cond {
	if b {
		return query.And{}
	}
	return query.Or{}
}

func (t ruleTranslator) call(c celast.CallExpr, depth int) (query.Cond, error) {
	args := c.Args()
	switch fn := c.FunctionName(); fn {
	case operators.LogicalAnd, operators.LogicalOr:
		var parts []query.Cond
		for _, a := range args {
			p, err := t.cond(a, depth+1)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
		if fn == operators.LogicalAnd {
			return query.And(parts), nil
		}
		return query.Or(parts), nil
	case operators.LogicalNot:
		inner, err := t.cond(args[0], depth+1)
		if err != nil {
			return nil, err
		}
		return query.Not{Cond: inner}, nil
	case operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		return t.compare(opFor[fn], args[0], args[1])
	case operators.In:
		return t.in(args[0], args[1])
	case "exists":
		return t.exists(args)
	}
	return nil, errf("function %s is not supported in rules", c.FunctionName())
}

func (t ruleTranslator) compare(op query.Op, l, r celast.Expr) (query.Cond, error) {
	left, err := t.operand(l)
	if err != nil {
		return nil, err
	}
	right, err := t.operand(r)
	if err != nil {
		return nil, err
	}
	if left.isVal && !right.isVal {
		left, right, op = right, left, op.Flip()
	}
	if left.isVal {
		return boolCond(query.Eval(query.Compare{Field: "x", Op: op, Value: normalize(right.value)},
			func(string) any { return normalize(left.value) })), nil
	}
	if !right.isVal {
		return nil, errf("rules compare a field with a constant, not two fields")
	}
	if right.missing {
		return boolCond(false), nil
	}
	if right.value == nil {
		if op != query.Eq && op != query.Ne {
			return nil, errf("null compares with == or != only")
		}
		return left.wrap(query.Compare{Field: left.field, Op: op}), nil
	}
	if err := left.enumText(right, right.value); err != nil {
		return nil, err
	}
	v, err := typedConstant(left.on.kinds[left.field], left.on.fields[left.field], left.name(), right.value)
	if err != nil {
		return nil, err
	}
	return left.wrap(query.Compare{Field: left.field, Op: op, Value: v}), nil
}

func (t ruleTranslator) in(l, r celast.Expr) (query.Cond, error) {
	left, err := t.operand(l)
	if err != nil {
		return nil, err
	}
	right, err := t.operand(r)
	if err != nil {
		return nil, err
	}
	if !right.isVal && right.on.kinds[right.field] == kindLinks {
		return t.member(left, right)
	}
	if !right.isVal || right.list == nil && right.value != nil {
		return nil, errf("in needs a list of constants or auth.roles on the right")
	}
	if left.isVal {
		return boolCond(slices.ContainsFunc(right.list, func(x any) bool { return normalize(x) == normalize(left.value) })), nil
	}
	values := make([]any, 0, len(right.list))
	for _, x := range right.list {
		if x == nil {
			continue // null, or an attribute the principal lacks: it matches no record
		}
		if err := left.enumText(right, x); err != nil {
			return nil, err
		}
		v, err := typedConstant(left.on.kinds[left.field], left.on.fields[left.field], left.name(), x)
		if err != nil {
			return nil, err
		}
		values = append(values, v)
	}
	if len(values) == 0 {
		return boolCond(false), nil
	}
	return left.wrap(query.In{Field: left.field, Values: values}), nil
}

// normalize makes CEL constants comparable in Go (ints and uints as int64).
func normalize(v any) any {
	if u, ok := v.(uint64); ok {
		return int64(u)
	}
	return v
}
