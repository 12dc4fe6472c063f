package expr

import (
	"fmt"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// parseFilters parses the filters of a rule's exists() calls once, when the spec loads: the
// rule's row condition is translated per request from them.
func parseFilters(env *cel.Env, e celast.Expr) (map[string]celast.Expr, error) {
	out := map[string]celast.Expr{}
	var problem error
	celast.PreOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		if problem != nil || x.Kind() != celast.CallKind || x.AsCall().FunctionName() != "exists" {
			return
		}
		args := x.AsCall().Args()
		src, ok := stringLit(args[1])
		if _, isRes := stringLit(args[0]); !ok || !isRes {
			problem = errf("exists() takes a resource name and a filter, both quoted texts")
			return
		}
		parsed, iss := env.Parse(src)
		if iss != nil && iss.Err() != nil {
			problem = errf("exists() filter %q: %s", src, cleanIssues(iss.Err().Error()))
			return
		}
		out[src] = parsed.NativeRep().Expr()
	}))
	return out, problem
}

func stringLit(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().Value().(string)
	return s, ok
}

// errTie refuses record.<field> in an exists() filter anywhere but the one comparison that
// ties the other record to this one.
func errTie(field string) error {
	return errf("record.%s: an exists() filter names this record once, in the comparison that ties the other record to it (org == record.org)", field)
}

// exists translates exists('memberships', 'org == record.org && user == auth.id'): another
// live record of a resource, tied to this one by one equality between a field of each, that
// meets the rest of the filter. It becomes query.Exists, an IN subquery in SQL.
func (t ruleTranslator) exists(args []celast.Expr) (query.Cond, error) {
	if t.bare {
		return nil, errf("exists() does not nest inside another exists() filter")
	}
	res, _ := stringLit(args[0])
	src, _ := stringLit(args[1])
	other := t.fields.all[res]
	if other == nil {
		return nil, errf("exists(): %q is not a resource", res)
	}
	e, ok := t.filters[src]
	if !ok {
		return nil, errf("exists() takes a resource name and a filter, both quoted texts")
	}
	inner := ruleTranslator{fields: other, auth: t.auth, bare: true}
	var tie *[2]operand
	var rest query.And
	for _, c := range conjunctsOf(e) {
		pair, isTie, err := t.tie(inner, c)
		switch {
		case err != nil:
			return nil, fmt.Errorf("exists('%s', ...): %w", res, err)
		case isTie && tie != nil:
			return nil, errf("exists('%s', ...): the filter ties the other record to this one twice; keep one comparison with record.<field>", res)
		case isTie:
			tie = &pair
			continue
		}
		cond, err := inner.cond(c, 1)
		if err != nil {
			return nil, fmt.Errorf("exists('%s', ...): %w", res, err)
		}
		rest = append(rest, cond)
	}
	if tie == nil {
		return nil, errf("exists('%s', ...): the filter must tie the other record to this one with one comparison like org == record.org", res)
	}
	return existsCond(res, tie[0], tie[1], Simplify(rest)), nil
}

// existsCond is the translation's result: false when the filter's other parts can never hold
// (an API key's missing auth.id), the other record's tie to this one otherwise.
func existsCond(res string, key, here operand, rest query.Cond) query.Cond {
	if IsFalse(rest) {
		return query.Or{}
	}
	if IsTrue(rest) {
		rest = nil
	}
	return here.wrap(query.Exists{Field: here.field, Resource: res, Key: key.field, Cond: rest})
}

// tie reads c as the comparison tying the other record to this one: <its field> ==
// record.<field> (either way round). isTie is false for any other part of the filter.
func (t ruleTranslator) tie(inner ruleTranslator, c celast.Expr) (pair [2]operand, isTie bool, err error) {
	if c.Kind() != celast.CallKind || c.AsCall().FunctionName() != operators.Equals {
		return pair, false, nil
	}
	l, r := c.AsCall().Args()[0], c.AsCall().Args()[1]
	if !namesRecord(l) {
		l, r = r, l
	}
	if !namesRecord(l) || namesRecord(r) {
		return pair, false, nil
	}
	here, err := t.operand(l)
	if err != nil {
		return pair, false, err
	}
	key, err := inner.operand(r)
	switch {
	case err != nil:
		return pair, false, err
	case key.isVal || len(key.path) > 0:
		return pair, false, errf("%s must be compared with a field of the other record, not a path or a constant", here.name())
	case !tieable(key, here):
		return pair, false, errf("%s and %s do not hold values of one type (a date and a text, decimals of two scales)", key.name(), here.name())
	}
	return [2]operand{key, here}, true, nil
}

// tieable reports whether two fields' values compare as stored on both dialects: of one kind,
// and a date with a date (PostgreSQL's DATE is no text), a decimal with one of its scale
// (SQLite keeps minor units).
func tieable(a, b operand) bool {
	ka, kb := a.on.kinds[a.field], b.on.kinds[b.field]
	if ka != kb || ka == kindLinks {
		return false
	}
	fa, fb := a.on.fields[a.field], b.on.fields[b.field]
	switch {
	case fa == nil || fb == nil: // id, created_at, updated_at: a UUID or a time, as their kind says
		return true
	case ka == kindString:
		return (fa.Type == spec.TypeDate) == (fb.Type == spec.TypeDate)
	case ka == kindDecimal:
		return fa.Scale == fb.Scale
	}
	return true
}

// namesRecord reports whether e is record.<field> or record.<relation>…<field>.
func namesRecord(e celast.Expr) bool {
	for e.Kind() == celast.SelectKind {
		e = e.AsSelect().Operand()
	}
	return e.Kind() == celast.IdentKind && e.AsIdent() == "record"
}

// conjunctsOf splits e at its top-level &&.
func conjunctsOf(e celast.Expr) []celast.Expr {
	if e.Kind() == celast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		var out []celast.Expr
		for _, a := range e.AsCall().Args() {
			out = append(out, conjunctsOf(a)...)
		}
		return out
	}
	return []celast.Expr{e}
}

// member translates auth.id in record.members: the record's N:M relation (a to-many field or
// the inverse of one) links it to that record.
func (t ruleTranslator) member(left, right operand) (query.Cond, error) {
	if !left.isVal || left.list != nil {
		return nil, errf("%s holds ids: test one with auth.id in %s", right.name(), right.name())
	}
	if left.missing || left.value == nil {
		return boolCond(false), nil
	}
	v, err := typedConstant(kindUUID, nil, right.name(), left.value)
	if err != nil {
		return nil, err
	}
	return right.wrap(query.Has{Field: right.field, ID: v.(string)}), nil
}

// exists decides exists('resource', 'filter') by reading the filter for each record others
// gives: true when one meets it, unknown when none does and one might (or when the oracle
// has no records to look among: Decide, or Holds without others).
func (o oracle) exists(args []celast.Expr) (any, error) {
	res, _ := stringLit(args[0])
	src, _ := stringLit(args[1])
	e, ok := o.filters[src]
	if !ok || o.others == nil || o.partial {
		return unknown{}, nil
	}
	recs, err := o.others(res)
	if err != nil {
		return nil, err
	}
	var out any = false
	for _, get := range recs {
		v, err := oracle{get: get, auth: o.auth, outer: o.get}.value(e)
		if err != nil {
			return nil, err
		}
		switch b, known := boolOf(v); {
		case known && b:
			return true, nil
		case !known:
			out = unknown{}
		}
	}
	return out, nil
}
