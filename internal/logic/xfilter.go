package logic

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/parser"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// template is a cross-record filter compiled once: a condition over the target resource's
// fields whose constants come from the outer expression (record.member, auth.id, now …)
// and are computed per evaluation. It becomes parameterized SQL like any list filter.
type template struct {
	build func(st *evalState) (query.Cond, error)
	// locks are the parent rows the filter pins down: to-one fields compared for equality
	// with a value at the top level (member == record.member locks that member).
	locks []lockSpec
	// deps are the fields of record the filter reads (owner == record.owner: owner)
	deps []string
}

// lockSpec is a row whose lock serializes writes that check an invariant hanging on it.
type lockSpec struct {
	resource string
	id       *cel.Program
}

var outerVars = []string{varRecord, varOld, varNew, varAuth, varNow, varOperation, varInput, varItem, varTarget, varState}

// filterTemplate compiles src, a condition over resource's fields, inside sc (strict: as
// compile). With c, the expression the filter is part of, its values may follow the record's
// to-one relations as c does (org != record.project.org reads the project in the write's
// transaction: a get site of c's).
func (e *envs) filterTemplate(c *compiled, sc scope, resource, src string, strict bool) (*template, error) {
	target := e.spec.Resource(resource)
	if target == nil {
		return nil, fmt.Errorf("%q is not a resource", resource)
	}
	outer, err := e.env(sc)
	if err != nil {
		return nil, err
	}
	var vars []cel.EnvOption
	for _, name := range append(append([]string{}, spec.SystemFields...), fieldNames(target)...) {
		if slices.Contains(outerVars, name) {
			return nil, fmt.Errorf("field %s.%s has the name of a variable: rename it to filter on it", resource, name)
		}
		vars = append(vars, cel.Variable(name, columnType(target, name)))
	}
	env, err := outer.Extend(vars...)
	if err != nil {
		return nil, err
	}
	checked, err := e.checkFilter(env, c, sc, src)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", src, err)
	}
	if checked.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("filter %q must be a condition", src)
	}
	if strict {
		if err := checkEnumTexts(checked.NativeRep(), e.filterEnums(checked.NativeRep(), target)); err != nil {
			return nil, fmt.Errorf("filter %q: %w", src, err)
		}
		if err := checkAuthAttrs(checked.NativeRep()); err != nil {
			return nil, fmt.Errorf("filter %q: %w", src, err)
		}
	}
	t := &translator{envs: e, outer: outer, sc: sc, target: target, info: checked.NativeRep().SourceInfo()}
	build, err := t.cond(checked.NativeRep().Expr(), 0)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", src, err)
	}
	if err := t.collectLocks(checked.NativeRep().Expr()); err != nil {
		return nil, err
	}
	return &template{build: build, locks: t.locks, deps: recordDeps(checked.NativeRep().Expr())}, nil
}

// checkFilter parses and type-checks a filter's src in env, its record paths followed for c
// (when not nil).
func (e *envs) checkFilter(env *cel.Env, c *compiled, sc scope, src string) (*cel.Ast, error) {
	parsed, iss := env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("%s", cleanIssues(iss.Err().Error()))
	}
	if c != nil {
		var err error
		if parsed, err = e.followRelations(c, sc, parsed); err != nil {
			return nil, err
		}
	}
	checked, iss := env.Check(parsed)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("%s", filterSelection(src, cleanIssues(iss.Err().Error())))
	}
	return checked, nil
}

// selectionIssue is CEL's complaint at a selection from a value that has no fields, and where.
var selectionIssue = regexp.MustCompile(`at (\d+):(\d+): type '[^']+' does not support field selection`)

// filterSelection says in the spec's words what selectionIssue means in a filter of count(),
// sum(), exists() and the like when the path is the other resource's (ticket_type.event ==
// …): a filter cannot follow its relations. One on the record's side (record.quantity.x)
// keeps CEL's words.
func filterSelection(src, msg string) string {
	return selectionIssue.ReplaceAllStringFunc(msg, func(m string) string {
		sub := selectionIssue.FindStringSubmatch(m)
		line, _ := strconv.Atoi(sub[1])
		col, _ := strconv.Atoi(sub[2])
		if root := pathRoot(src, line, col); root == "" || root == varRecord || root == varNew || root == varOld {
			return m
		}
		return "at " + sub[1] + ":" + sub[2] + ": a filter compares the other resource's own fields, not a path through " +
			"its relations: give that resource a field holding the value (computed with get() of the relation) and compare " +
			"that field; record.<path> on the right-hand side may follow relations"
	})
}

// pathRoot is the first name of the dotted path that ends just before line:col of src.
func pathRoot(src string, line, col int) string {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) || col < 1 {
		return ""
	}
	runes := []rune(lines[line-1])
	start := min(col-1, len(runes))
	for start > 0 && (unicode.IsLetter(runes[start-1]) || unicode.IsDigit(runes[start-1]) || runes[start-1] == '_' || runes[start-1] == '.') {
		start--
	}
	root, _, _ := strings.Cut(string(runes[start:min(col-1, len(runes))]), ".")
	return root
}

// collectLocks finds the top-level conjuncts `relation == value` with a to-one relation:
// every row the filter can count hangs on that parent, so locking it serializes the writes
// that check the invariant.
func (t *translator) collectLocks(e celast.Expr) error {
	if e.Kind() != celast.CallKind {
		return nil
	}
	c := e.AsCall()
	switch c.FunctionName() {
	case operators.LogicalAnd:
		for _, a := range c.Args() {
			if err := t.collectLocks(a); err != nil {
				return err
			}
		}
	case operators.Equals:
		field, other := c.Args()[0], c.Args()[1]
		if !t.isField(field) {
			field, other = other, field
		}
		f := t.target.Field(field.AsIdent())
		if !t.isField(field) || f == nil || f.Relation == nil || f.Relation.Kind != spec.RelToOne || t.isField(other) ||
			other.Kind() == celast.LiteralKind && other.AsLiteral() == types.NullValue { // no parent pinned: IS NULL
			return nil
		}
		val, err := t.value(other)
		if err != nil {
			return err
		}
		t.locks = append(t.locks, lockSpec{resource: f.Relation.To, id: val.prog})
	}
	return nil
}

// columnType is the CEL type of a target field used bare in a filter (stored fields only):
// nullable, so that note == null type-checks as in a list filter (the translator makes it IS
// NULL); CEL wraps only its primitive types, and the others compare with null already
// (a timestamp) or not at all (a decimal).
func columnType(r *spec.Resource, name string) *cel.Type {
	if slices.Contains(spec.SystemFields, name) {
		return systemType(name)
	}
	t := fieldCELType(r.Field(name))
	switch t {
	case types.IntType, types.DoubleType, types.BoolType, types.StringType:
		return cel.NullableType(t)
	}
	return t
}

func fieldNames(r *spec.Resource) []string {
	var out []string
	for _, f := range r.Fields {
		if f.Stored() && !f.Hidden && !f.StoredAsJSON() {
			out = append(out, f.Name)
		}
	}
	return out
}

type condFunc = func(st *evalState) (query.Cond, error)

type translator struct {
	envs   *envs
	outer  *cel.Env
	sc     scope
	target *spec.Resource
	info   *celast.SourceInfo
	locks  []lockSpec
}

func (t *translator) isField(e celast.Expr) bool {
	return e.Kind() == celast.IdentKind && !slices.Contains(outerVars, e.AsIdent())
}

func (t *translator) cond(e celast.Expr, depth int) (condFunc, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nests deeper than %d levels", maxDepth)
	}
	switch e.Kind() {
	case celast.LiteralKind:
		if b, ok := e.AsLiteral().Value().(bool); ok {
			c := query.Cond(query.Or{})
			if b {
				c = query.And{}
			}
			return func(*evalState) (query.Cond, error) { return c, nil }, nil
		}
	case celast.IdentKind:
		if t.isField(e) {
			c := query.Compare{Field: e.AsIdent(), Op: query.Eq, Value: true}
			return func(*evalState) (query.Cond, error) { return c, nil }, nil
		}
	case celast.CallKind:
		return t.call(e.AsCall(), depth)
	}
	return nil, fmt.Errorf("filters compare fields of the resource with values, joined by &&, || and !")
}

func (t *translator) call(c celast.CallExpr, depth int) (condFunc, error) {
	args := c.Args()
	switch fn := c.FunctionName(); fn {
	case operators.LogicalAnd, operators.LogicalOr:
		return t.logical(fn, args, depth)
	case operators.LogicalNot:
		inner, err := t.cond(args[0], depth+1)
		if err != nil {
			return nil, err
		}
		return func(st *evalState) (query.Cond, error) {
			c, err := inner(st)
			return query.Not{Cond: c}, err
		}, nil
	case operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		return t.compare(fn, args[0], args[1])
	case operators.In:
		return t.in(args[0], args[1])
	case "startsWith", "endsWith", "contains":
		return t.match(fn, c)
	}
	return nil, fmt.Errorf("%s is not supported in filters", c.FunctionName())
}

func (t *translator) logical(fn string, args []celast.Expr, depth int) (condFunc, error) {
	var parts []condFunc
	for _, a := range args {
		p, err := t.cond(a, depth+1)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	return func(st *evalState) (query.Cond, error) {
		conds := make([]query.Cond, 0, len(parts))
		for _, p := range parts {
			c, err := p(st)
			if err != nil {
				return nil, err
			}
			conds = append(conds, c)
		}
		if fn == operators.LogicalAnd {
			return query.And(conds), nil
		}
		return query.Or(conds), nil
	}, nil
}

var opFor = map[string]query.Op{
	operators.Equals: query.Eq, operators.NotEquals: query.Ne, operators.Less: query.Lt,
	operators.LessEquals: query.Le, operators.Greater: query.Gt, operators.GreaterEquals: query.Ge,
}

func (t *translator) compare(fn string, left, right celast.Expr) (condFunc, error) {
	op := opFor[fn]
	if !t.isField(left) && t.isField(right) {
		left, right, op = right, left, op.Flip()
	}
	if !t.isField(left) {
		return nil, fmt.Errorf("a comparison needs a field of %s on one side", t.target.Name)
	}
	name := left.AsIdent()
	if right.Kind() == celast.LiteralKind && right.AsLiteral() == types.NullValue {
		c := query.Compare{Field: name, Op: op}
		return func(*evalState) (query.Cond, error) { return c, nil }, nil
	}
	val, err := t.value(right)
	if err != nil {
		return nil, err
	}
	return func(st *evalState) (query.Cond, error) {
		v, err := val.eval(st, t.target, name)
		if err != nil {
			return nil, err
		}
		return query.Compare{Field: name, Op: op, Value: v}, nil
	}, nil
}

func (t *translator) in(left, right celast.Expr) (condFunc, error) {
	if !t.isField(left) {
		return nil, fmt.Errorf("in needs a field of %s on the left", t.target.Name)
	}
	name := left.AsIdent()
	val, err := t.value(right)
	if err != nil {
		return nil, err
	}
	return func(st *evalState) (query.Cond, error) {
		list, err := val.evalList(st, t.target, name)
		if err != nil {
			return nil, err
		}
		return query.In{Field: name, Values: list}, nil
	}, nil
}

func (t *translator) match(fn string, c celast.CallExpr) (condFunc, error) {
	if !c.IsMemberFunction() || !t.isField(c.Target()) || len(c.Args()) != 1 {
		return nil, fmt.Errorf("%s must be called on a field: name.%s(…)", fn, fn)
	}
	name := c.Target().AsIdent()
	val, err := t.value(c.Args()[0])
	if err != nil {
		return nil, err
	}
	kinds := map[string]query.MatchKind{"startsWith": query.Prefix, "endsWith": query.Suffix, "contains": query.Contains}
	return func(st *evalState) (query.Cond, error) {
		v, err := val.eval(st, nil, "")
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s needs text", fn)
		}
		return query.Match{Field: name, Kind: kinds[fn], Text: s}, nil
	}, nil
}

// outerValue is a value side of a comparison: any expression over the outer variables,
// computed per evaluation.
type outerValue struct {
	prog *cel.Program
	src  string // its text, for errors
}

func (t *translator) value(e celast.Expr) (*outerValue, error) {
	if containsFieldIdent(e, t) {
		return nil, fmt.Errorf("compare fields with values, not with other fields")
	}
	src, err := parser.Unparse(e, t.info)
	if err != nil {
		return nil, err
	}
	checked, iss := t.outer.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("%s", cleanIssues(iss.Err().Error()))
	}
	prog, err := t.outer.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	return &outerValue{prog: &prog, src: src}, nil
}

func containsFieldIdent(e celast.Expr, t *translator) bool {
	found := false
	celast.PostOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		if x.Kind() == celast.IdentKind && t.isField(x) {
			found = true
		}
	}))
	return found
}
