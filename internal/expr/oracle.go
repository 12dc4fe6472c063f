package expr

import (
	"slices"
	"strings"
	"time"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// Interpret decides a filter for one record straight from its CEL text, without the
// translation to a query condition that the API renders as SQL: an independent oracle that
// `kiln test` compares list results with. The semantics are Kiln's documented ones: a
// comparison with a missing value is false (except == null and != null), ! negates that.
// get returns a field's stored value (string, int64, float64, bool, value.Decimal, time.Time
// or nil). The filter must already be valid (Compile accepts it).
func (f *Filter) Interpret(src string, get func(field string) any) (bool, error) {
	parsed, iss := f.env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return false, &Error{Message: cleanIssues(iss.Err().Error())}
	}
	return oracle{get: get, kinds: f.kinds}.truth(parsed.NativeRep().Expr())
}

// Holds decides the rule for one principal (nil: anonymous) and record straight from the
// rule's CEL, without the translation to a row condition that the API renders as SQL: the
// oracle `kiln test` checks row-level access with. get returns the record's field values.
func (r *Rule) Holds(a *Auth, get func(string) any) (bool, error) {
	return r.HoldsAmong(a, get, nil)
}

// Verdict is Holds telling an unknown outcome apart: known is false where the outcome depends
// on a value get cannot tell (Unknown) or on other records (exists()); an expression that
// cannot be computed is an error, as for Holds.
func (r *Rule) Verdict(a *Auth, get func(string) any) (holds, known bool, err error) {
	if holds, ok := r.fixed(a); ok {
		return holds, true, nil
	}
	v, err := oracle{get: get, auth: a, filters: r.filters}.value(r.expr)
	if err != nil {
		return false, false, err
	}
	holds, known = boolOf(v)
	return holds, known, nil
}

// fixed decides a rule no record can change: public, anyone anonymous (refused), a list of
// roles. ok is false for an expression.
func (r *Rule) fixed(a *Auth) (holds, ok bool) {
	switch {
	case r.Public:
		return true, true
	case a == nil:
		return false, true
	case r.expr == nil:
		return slices.Contains(r.Roles, a.Role), true
	}
	return false, false
}

// ReadsOthers reports whether the rule asks for other records (exists()): whether it holds
// for a record then depends on what else is stored, which Decide and Holds do not know.
func (r *Rule) ReadsOthers() bool { return len(r.filters) > 0 }

// Others returns a getter for each live record of a resource, whatever its access rules:
// the records a rule's exists() looks among.
type Others func(resource string) ([]func(string) any, error)

// HoldsAmong is Holds for a rule that may ask for other records (exists()): others gives the
// records of a resource to look among. Without it (nil) such a part is unknown.
func (r *Rule) HoldsAmong(a *Auth, get func(string) any, others Others) (bool, error) {
	if holds, ok := r.fixed(a); ok {
		return holds, nil
	}
	return oracle{get: get, auth: a, filters: r.filters, others: others}.truth(r.expr)
}

// Decide evaluates the rule for one principal (nil: anonymous) with no record at hand,
// straight from its CEL: known reports whether the outcome is the same for every record, and
// holds is then that outcome. A rule that depends on the record (record.owner == auth.id for
// a customer) is not known. It decides which roles an action lets through, refuses, or lets
// through to some records only, without the translation the API renders as SQL.
func (r *Rule) Decide(a *Auth) (holds, known bool, err error) {
	if holds, ok := r.fixed(a); ok {
		return holds, true, nil
	}
	v, err := oracle{auth: a, partial: true}.value(r.expr)
	holds, known = boolOf(v)
	return holds, known, err
}

type oracle struct {
	get func(string) any
	// kinds are a filter's fields' kinds (nil for rules): a UUID field is compared with a
	// literal as the translation compares it, the literal read as a UUID (canonicalID).
	kinds map[string]kind
	auth  *Auth // for rules: auth.id, auth.role, auth.roles, auth.key
	// partial: record fields are unknown (Decide); what depends on them is unknown too.
	partial bool
	// filters and others are a rule's exists() filters and the records they look among.
	filters map[string]celast.Expr
	others  Others
	// outer reads record.<field> inside an exists() filter, whose bare names are the other
	// record's fields (get); nil outside one.
	outer func(string) any
}

// unknown is a value that depends on a record the oracle does not have (Decide).
type unknown struct{}

// Unknown is what a getter passed to Holds returns for a value it cannot tell: the rule then
// holds only where it holds whatever that value is (true || Unknown holds; true && Unknown
// does not), as Decide reads a record it does not have.
var Unknown any = unknown{}

func isUnknown(vals ...any) bool {
	for _, v := range vals {
		if _, ok := v.(unknown); ok {
			return true
		}
	}
	return false
}

// boolOf reads a condition's value: known is false for unknown; anything but true is false
// (a missing boolean field is not true).
func boolOf(v any) (b, known bool) {
	if isUnknown(v) {
		return false, false
	}
	b, _ = v.(bool)
	return b, true
}

func (o oracle) truth(e celast.Expr) (bool, error) {
	v, err := o.value(e)
	if err != nil {
		return false, err
	}
	b, _ := boolOf(v)
	return b, nil
}

// logic is && (and) or || over three values: false && unknown is false, true || unknown true.
func logic(and bool, l, r any) any {
	lb, lk := boolOf(l)
	rb, rk := boolOf(r)
	switch {
	case and && ((lk && !lb) || (rk && !rb)):
		return false
	case !and && ((lk && lb) || (rk && rb)):
		return true
	case lk && rk:
		return and
	}
	return unknown{}
}

func (o oracle) value(e celast.Expr) (any, error) {
	switch e.Kind() {
	case celast.IdentKind:
		return o.get(strings.TrimPrefix(e.AsIdent(), ".")), nil // .stock is stock, from the root scope
	case celast.LiteralKind:
		lit := e.AsLiteral()
		if lit == types.NullValue {
			return nullLit{}, nil
		}
		return lit.Value(), nil
	case celast.ListKind:
		var list []any
		for _, el := range e.AsList().Elements() {
			v, err := o.value(el)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	case celast.CallKind:
		return o.call(e.AsCall())
	case celast.SelectKind:
		if e.AsSelect().IsTestOnly() {
			return o.has(e.AsSelect())
		}
		return o.selectValue(e.AsSelect())
	}
	return nil, errf("the oracle does not evaluate %v", e.Kind())
}

// has is has(record.<field>) or has(auth.<attribute>): whether it holds a value.
func (o oracle) has(s celast.SelectExpr) (any, error) {
	v, err := o.selectValue(s)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case unknown:
		return x, nil
	case nil:
		return false, nil
	case []any:
		return len(x) > 0, nil
	}
	return true, nil
}

// selectValue reads record.<field> and auth.<attribute>; an attribute the principal lacks
// (an API key's auth.id) is missing, like a field without a value.
//
// record.<relation>.<field> asks get for "relation.field": the caller reads the related record.
func (o oracle) selectValue(s celast.SelectExpr) (any, error) {
	if s.Operand().Kind() == celast.SelectKind {
		path := s.FieldName()
		e := s.Operand()
		for e.Kind() == celast.SelectKind {
			path = e.AsSelect().FieldName() + "." + path
			e = e.AsSelect().Operand()
		}
		root := ""
		if e.Kind() == celast.IdentKind {
			root = strings.TrimPrefix(e.AsIdent(), ".")
		}
		switch {
		case o.outer != nil && root == "record":
			return o.outer(path), nil
		case o.outer != nil && root != "" && root != "auth":
			return o.get(root + "." + path), nil // a path from the other record's relation
		case root != "record":
			return nil, errf("the oracle reads record.<relation>.<field> only")
		case o.partial:
			return unknown{}, nil
		}
		return o.get(path), nil
	}
	if s.Operand().Kind() != celast.IdentKind {
		return nil, errf("the oracle reads record.<field> and auth.<attribute> only")
	}
	switch root, name := strings.TrimPrefix(s.Operand().AsIdent(), "."), s.FieldName(); {
	case root == "record" && o.outer != nil:
		return o.outer(name), nil
	case root != "auth" && o.outer != nil:
		return o.get(root + "." + name), nil
	case root == "record" && o.partial:
		return unknown{}, nil
	case root == "record":
		return o.get(name), nil
	case root == "auth" && o.auth != nil:
		attr := map[string]string{"id": o.auth.ID, "role": o.auth.Role, "key": o.auth.Key}
		if name == "roles" {
			list := make([]any, len(o.auth.Roles))
			for i, r := range o.auth.Roles {
				list[i] = r
			}
			return list, nil
		}
		if v := attr[name]; v != "" {
			return v, nil
		}
		return nil, nil
	}
	return nil, errf("the oracle cannot read %s", s.FieldName())
}

func (o oracle) call(c celast.CallExpr) (any, error) {
	args := c.Args()
	switch fn := strings.TrimPrefix(c.FunctionName(), "."); fn { // .timestamp is timestamp, from the root scope
	case operators.LogicalAnd, operators.LogicalOr:
		l, err := o.value(args[0])
		if err != nil {
			return nil, err
		}
		r, err := o.value(args[1])
		return logic(fn == operators.LogicalAnd, l, r), err
	case operators.LogicalNot:
		v, err := o.value(args[0])
		b, known := boolOf(v)
		if !known {
			return unknown{}, err
		}
		return !b, err
	case operators.Negate:
		v, err := o.value(args[0])
		if n, ok := number(v); ok {
			return -n, err
		}
		if isUnknown(v) {
			return v, err
		}
		return nil, err
	case "timestamp":
		v, err := o.value(args[0])
		s, _ := v.(string)
		t, perr := time.Parse(time.RFC3339Nano, s)
		if err == nil && perr != nil {
			err = errf("timestamp(%q) is not RFC 3339", s)
		}
		return t, err
	case "startsWith", "endsWith", "contains":
		return o.match(fn, c)
	case operators.In:
		return o.in(args[0], args[1])
	case "exists":
		return o.exists(args)
	}
	return o.compare(c.FunctionName(), args)
}
