package derive

import (
	"slices"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/kiln-dev/kiln/internal/spec"
)

// verdict is what an action's assert says about one state machine field at one state: the
// parts of the assert that read the field are judged; the other parts are assumed to hold
// (the derived record and input are built to satisfy them).
type verdict struct {
	free  bool // the expression does not read the field
	known bool // it reads the field only as field == 'x', field != 'x', field in [...], joined by && || !
	ok    bool // with known: the parts on the field hold
	pure  bool // with known: it reads nothing else, so ok is the assert's own answer
}

// parseEnv parses asserts; built once, as parsing needs no declarations.
var parseEnv = sync.OnceValues(func() (*cel.Env, error) { return cel.NewEnv() })

// parseAssert parses an assert's CEL (without checking it: the spec did); nil when it does not parse.
func parseAssert(text string) celast.Expr {
	env, err := parseEnv()
	if err != nil {
		return nil
	}
	parsed, iss := env.Parse(text)
	if iss != nil && iss.Err() != nil {
		return nil
	}
	return parsed.NativeRep().Expr()
}

// judge decides e for field at state.
func judge(e celast.Expr, field, state string) verdict {
	if e == nil {
		return verdict{}
	}
	if !readsField(e, field) {
		return verdict{free: true}
	}
	if e.Kind() != celast.CallKind {
		return verdict{}
	}
	c := e.AsCall()
	args := c.Args()
	switch {
	case (c.FunctionName() == operators.Equals || c.FunctionName() == operators.NotEquals) && len(args) == 2:
		lit, ok := stateLiteral(args[0], args[1], field)
		if !ok {
			return verdict{}
		}
		return verdict{known: true, pure: true, ok: (lit == state) == (c.FunctionName() == operators.Equals)}
	case c.FunctionName() == operators.In && len(args) == 2 && isFieldRef(args[0], field):
		set, ok := stringList(args[1])
		if !ok {
			return verdict{}
		}
		return verdict{known: true, pure: true, ok: slices.Contains(set, state)}
	case c.FunctionName() == operators.LogicalNot && len(args) == 1:
		v := judge(args[0], field, state)
		v.ok = !v.ok
		return v
	case (c.FunctionName() == operators.LogicalAnd || c.FunctionName() == operators.LogicalOr) && len(args) == 2:
		return join(judge(args[0], field, state), judge(args[1], field, state), c.FunctionName() == operators.LogicalAnd)
	}
	return verdict{}
}

// join combines the two sides of && (and) or ||; a side that does not read the field is
// assumed to hold, so the other side decides, no longer purely.
func join(l, r verdict, and bool) verdict {
	switch {
	case l.free && r.free:
		return verdict{free: true}
	case l.free:
		r.pure = false
		return r
	case r.free:
		l.pure = false
		return l
	case !l.known || !r.known:
		return verdict{}
	}
	ok := l.ok || r.ok
	if and {
		ok = l.ok && r.ok
	}
	return verdict{known: true, ok: ok, pure: l.pure && r.pure}
}

// readsField reports whether e reads record.field or old.field.
func readsField(e celast.Expr, field string) bool {
	if e == nil {
		return false
	}
	found := false
	celast.PreOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		found = found || isFieldRef(x, field)
	}))
	return found
}

func isFieldRef(e celast.Expr, field string) bool {
	if e.Kind() != celast.SelectKind {
		return false
	}
	s := e.AsSelect()
	op := s.Operand()
	return s.FieldName() == field && op.Kind() == celast.IdentKind && (op.AsIdent() == "record" || op.AsIdent() == "old")
}

// stateLiteral is the string compared with field in a == or != (either side).
func stateLiteral(a, b celast.Expr, field string) (string, bool) {
	if isFieldRef(b, field) {
		a, b = b, a
	}
	if !isFieldRef(a, field) {
		return "", false
	}
	return stringLiteral(b)
}

func stringLiteral(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().Value().(string)
	return s, ok
}

func stringList(e celast.Expr) ([]string, bool) {
	if e.Kind() != celast.ListKind {
		return nil, false
	}
	var out []string
	for _, el := range e.AsList().Elements() {
		s, ok := stringLiteral(el)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// actionAsserts are the action's unconditional asserts, parsed, in step order, with the index
// of their step.
type stepAssert struct {
	step int
	expr celast.Expr
	code string
}

func actionAsserts(a *spec.RecordAction) []stepAssert {
	var out []stepAssert
	for i, st := range a.Steps {
		if st.Assert.Set() && !st.When.Set() {
			out = append(out, stepAssert{step: i, expr: parseAssert(st.Assert.Text), code: st.Code})
		}
	}
	return out
}

// admits reports whether every assert of the action lets it run with field at state, as far as
// the parts on the field tell (an assert that reads the field in a way not followed: no).
func admits(asserts []stepAssert, field, state string) bool {
	for _, as := range asserts {
		v := judge(as.expr, field, state)
		if !v.free && (!v.known || !v.ok) {
			return false
		}
	}
	return true
}
