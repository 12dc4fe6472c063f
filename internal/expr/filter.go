// Package expr is Kiln's CEL layer: the environment built from a resource's fields and the
// translator that turns the SQL-expressible subset of a checked CEL expression into a
// dialect-neutral query condition. List filters use it now; access rules reuse it later.
package expr

import (
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// MaxFilterLen bounds filter text, in bytes.
const MaxFilterLen = 2000

// maxDepth bounds how deeply a filter may nest.
const maxDepth = 32

// Error is a filter the translator cannot accept; Message is safe to show the client.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func errf(format string, args ...any) error { return &Error{Message: fmt.Sprintf(format, args...)} }

// cacheSize bounds the compiled filters kept per resource; the cache is cleared when full.
const cacheSize = 512

// Filter compiles filter expressions for one resource. Compiled conditions are immutable
// values, so repeated filters are served from a small cache (CEL checking costs tens of µs).
type Filter struct {
	env    *cel.Env
	fields map[string]*spec.Field // nil value for system fields
	kinds  map[string]kind
	why    map[string]string      // fields a filter cannot use, and why (unfilterable)
	rels   map[string]*spec.Field // the to-one relations, for messages
	mu     sync.RWMutex
	cache  map[string]query.Cond
}

// NewFilter builds the CEL environment for a resource: one variable per filterable field.
// Hidden fields, JSON fields and 1:N inverse relations are not filterable; N:M relations
// (to-many fields and their inverses) are lists of ids, filtered by membership.
func NewFilter(res *spec.Resource) (*Filter, error) {
	f := &Filter{fields: map[string]*spec.Field{}, kinds: map[string]kind{}, why: map[string]string{}, rels: map[string]*spec.Field{}}
	opts := []cel.EnvOption{
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(MaxFilterLen),
		cel.ParserRecursionLimit(maxDepth * 2),
	}
	add := func(name string, fld *spec.Field, k kind) {
		f.fields[name], f.kinds[name] = fld, k
		opts = append(opts, cel.Variable(name, k.celType(fld == nil)))
	}
	add("id", nil, kindUUID)
	add("created_at", nil, kindTime)
	add("updated_at", nil, kindTime)
	for _, fld := range res.Fields {
		if k, ok := kindOf(fld); ok && !fld.Hidden {
			add(fld.Name, fld, k)
			if fld.Relation != nil && fld.Relation.Kind == spec.RelToOne {
				f.rels[fld.Name] = fld
			}
		} else if reason := unfilterable(fld); reason != "" {
			f.why[fld.Name] = reason
		}
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("cel env for %s: %w", res.Name, err)
	}
	f.env = env
	return f, nil
}

// Fields lists the filterable field names.
func (f *Filter) Fields() []string {
	out := make([]string, 0, len(f.fields))
	for name := range f.fields {
		out = append(out, name)
	}
	return out
}

// Compile parses, type-checks and translates src. Errors are *Error.
func (f *Filter) Compile(src string) (query.Cond, error) {
	f.mu.RLock()
	c, ok := f.cache[src]
	f.mu.RUnlock()
	if ok {
		return c, nil
	}
	c, err := f.compile(src)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if len(f.cache) >= cacheSize || f.cache == nil {
		f.cache = make(map[string]query.Cond, cacheSize)
	}
	f.cache[src] = c
	f.mu.Unlock()
	return c, nil
}

func (f *Filter) compile(src string) (query.Cond, error) {
	if len(src) > MaxFilterLen {
		return nil, errf("filter is longer than %d bytes", MaxFilterLen)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errf("filter is empty")
	}
	parsed, iss := f.env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil, &Error{Message: plainIssues(src, cleanIssues(iss.Err().Error()), f.why, f.rels)}
	}
	ints := map[int64]ref.Val{}
	f.widenInts(parsed.NativeRep().Expr(), ints)
	checked, iss := f.env.Check(parsed)
	if iss != nil && iss.Err() != nil {
		return nil, &Error{Message: plainIssues(src, cleanIssues(iss.Err().Error()), f.why, f.rels)}
	}
	if !checked.OutputType().IsExactType(types.BoolType) {
		return nil, errf("filter must be a condition (true or false), not %s", checked.OutputType())
	}
	t := translator{f: f, src: checked.NativeRep().SourceInfo(), ints: ints}
	return t.cond(checked.NativeRep().Expr(), 0)
}

// cleanIssues keeps CEL's messages but drops its "<input>" naming and the caret drawing.
func cleanIssues(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "ERROR:") {
			continue
		}
		line = strings.TrimPrefix(line, "ERROR: <input>:")
		if rest, ok := strings.CutPrefix(line, "-1:0: "); ok { // CEL knows no position for it
			if strings.HasPrefix(rest, "expression recursion limit exceeded") {
				rest = fmt.Sprintf("nests deeper than %d levels", maxDepth) // parentheses count too
			}
			out = append(out, rest)
			continue
		}
		out = append(out, "at "+line)
	}
	if len(out) == 0 {
		return "filter is not valid"
	}
	return strings.Join(out, "; ")
}

type translator struct {
	f    *Filter
	src  *celast.SourceInfo // where each expression stands in the filter, for messages
	ints map[int64]ref.Val  // integer constants typed as doubles for the check (widenInts), by id
}

// errAt is errf with the position of e in the filter ("at 1:9: …"), as the checker's own
// messages give theirs.
func (t translator) errAt(e celast.Expr, format string, args ...any) error {
	if t.src != nil {
		if loc := t.src.GetStartLocation(e.ID()); loc.Line() > 0 {
			format = fmt.Sprintf("at %d:%d: ", loc.Line(), loc.Column()+1) + format
		}
	}
	return errf(format, args...)
}

func (t translator) cond(e celast.Expr, depth int) (query.Cond, error) {
	if depth > maxDepth {
		return nil, errf("filter nests deeper than %d levels", maxDepth)
	}
	switch e.Kind() {
	case celast.IdentKind:
		return t.boolIdent(e.AsIdent(), true)
	case celast.LiteralKind:
		if b, ok := e.AsLiteral().Value().(bool); ok {
			if b {
				return query.And{}, nil
			}
			return query.Or{}, nil
		}
	case celast.CallKind:
		return t.call(e.AsCall(), depth)
	}
	return nil, errf("filter supports comparisons of fields with constants joined by &&, || and !")
}

func (t translator) boolIdent(name string, want bool) (query.Cond, error) {
	if t.f.kinds[name] != kindBool {
		return nil, errf("%s is not a boolean field", name)
	}
	return query.Compare{Field: name, Op: query.Eq, Value: want}, nil
}

func (t translator) call(c celast.CallExpr, depth int) (query.Cond, error) {
	args := c.Args()
	switch fn := c.FunctionName(); fn {
	case operators.LogicalAnd, operators.LogicalOr:
		return t.logical(fn, args, depth)
	case operators.LogicalNot:
		inner, err := t.cond(args[0], depth+1)
		if err != nil {
			return nil, err
		}
		return query.Not{Cond: inner}, nil
	case operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals,
		operators.Greater, operators.GreaterEquals:
		return t.compare(fn, args[0], args[1])
	case operators.In:
		return t.in(args[0], args[1])
	case "startsWith", "endsWith", "contains":
		return t.match(fn, c)
	}
	return nil, errf("function %s is not supported in filters", strings.Trim(c.FunctionName(), "_@"))
}

func (t translator) logical(fn string, args []celast.Expr, depth int) (query.Cond, error) {
	var parts []query.Cond
	for _, a := range args {
		c, err := t.cond(a, depth+1)
		if err != nil {
			return nil, err
		}
		parts = append(parts, c)
	}
	if fn == operators.LogicalAnd {
		return query.And(parts), nil
	}
	return query.Or(parts), nil
}

var opFor = map[string]query.Op{
	operators.Equals: query.Eq, operators.NotEquals: query.Ne, operators.Less: query.Lt,
	operators.LessEquals: query.Le, operators.Greater: query.Gt, operators.GreaterEquals: query.Ge,
}

func (t translator) compare(fn string, left, right celast.Expr) (query.Cond, error) {
	op := opFor[fn]
	if left.Kind() != celast.IdentKind && right.Kind() == celast.IdentKind {
		left, right, op = right, left, op.Flip()
	}
	if left.Kind() != celast.IdentKind {
		return nil, t.errAt(left, "a comparison needs a field on one side")
	}
	name := left.AsIdent()
	if right.Kind() == celast.IdentKind {
		return nil, t.errAt(right, "%s is compared with %s, another field: a filter compares a field with a constant", name, right.AsIdent())
	}
	if right.Kind() == celast.LiteralKind && right.AsLiteral() == types.NullValue {
		if op != query.Eq && op != query.Ne {
			return nil, errf("%s can only be compared to null with == or !=", name)
		}
		return query.Compare{Field: name, Op: op, Value: nil}, nil
	}
	v, err := t.constant(name, right)
	if err != nil {
		return nil, err
	}
	if t.f.kinds[name] == kindBool && op != query.Eq && op != query.Ne {
		return nil, errf("%s is a boolean: use == or !=", name)
	}
	return query.Compare{Field: name, Op: op, Value: v}, nil
}

func (t translator) in(left, right celast.Expr) (query.Cond, error) {
	if right.Kind() == celast.IdentKind && t.f.kinds[right.AsIdent()] == kindLinks {
		return t.has(left, right.AsIdent())
	}
	if left.Kind() != celast.IdentKind || right.Kind() != celast.ListKind {
		return nil, errf("in needs a field on the left and a list of constants on the right")
	}
	name := left.AsIdent()
	elems := right.AsList().Elements()
	if len(elems) > 100 {
		return nil, errf("in lists take at most 100 values")
	}
	values := make([]any, 0, len(elems))
	for _, el := range elems {
		v, err := t.constant(name, el)
		if err != nil {
			return nil, err
		}
		values = append(values, v)
	}
	return query.In{Field: name, Values: values}, nil
}

// has translates "<id>" in links: membership in an N:M relation.
func (t translator) has(left celast.Expr, name string) (query.Cond, error) {
	if left.Kind() != celast.LiteralKind {
		return nil, errf(`membership in %s needs a constant id: "<id>" in %s`, name, name)
	}
	id, err := typedConstant(kindUUID, nil, name, left.AsLiteral().Value())
	if err != nil {
		return nil, errf(`membership in %s needs a constant UUID: "<id>" in %s`, name, name)
	}
	return query.Has{Field: name, ID: id.(string)}, nil
}

func (t translator) match(fn string, c celast.CallExpr) (query.Cond, error) {
	target := c.Target()
	if !c.IsMemberFunction() || target.Kind() != celast.IdentKind || len(c.Args()) != 1 {
		return nil, errf("%s must be called on a field: name.%s(\"text\")", fn, fn)
	}
	name := target.AsIdent()
	if t.f.kinds[name] != kindString {
		return nil, errf("%s works on text fields only", fn)
	}
	arg := c.Args()[0]
	if arg.Kind() != celast.LiteralKind {
		return nil, errf("%s needs a constant string", fn)
	}
	text, ok := arg.AsLiteral().Value().(string)
	if !ok {
		return nil, errf("%s needs a constant string", fn)
	}
	if code := value.TextProblem(text); code != "" {
		return nil, errf("%s: %s", fn, value.TextMessage(code))
	}
	kinds := map[string]query.MatchKind{"startsWith": query.Prefix, "endsWith": query.Suffix, "contains": query.Contains}
	return query.Match{Field: name, Kind: kinds[fn], Text: text}, nil
}
