package logic

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/parser"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Limits on business-logic expressions.
const (
	maxExprLen = 4000
	maxDepth   = 64
)

// Names of the variables expressions see.
const (
	varRecord    = "record"    // the state the write would produce
	varOld       = "old"       // the state before (update, delete, actions)
	varNew       = "new"       // a trigger's state after the write
	varAuth      = "auth"      // id, role, roles, key
	varNow       = "now"       // the write's time
	varOperation = "operation" // create, update, delete, or the action's name
	varInput     = "input"     // an action's input
	varItem      = "item"      // the child an effect with each: runs for
	varTarget    = "target"    // the record an effect or step changes
	varState     = "__kiln"    // the evaluation state, for cross-record functions
)

// site kinds: the cross-record functions.
const (
	siteCount  = "count"
	siteExists = "exists"
	siteGet    = "get"
	siteSum    = "sum"
	siteMin    = "min"
	siteMax    = "max"
)

// site is one call of a cross-record function in an expression: count('loans', '<filter>').
type site struct {
	kind     string
	resource string
	field    string // aggregates
	ftype    spec.FieldType
	filter   string // count, exists, aggregates
	where    *template
}

// scope says which variables an expression sees, typed by resource.
type scope struct {
	resource string // record and old
	input    string // the action whose input is visible, or ""
	item     string // the resource of item, or ""
	target   string // the resource of target, or ""
	trigger  bool   // new is visible too
}

// envs builds CEL environments over one spec: the shared declarations once, a scoped
// environment per (resource, input, item, target), and per expression the macros that
// collect its cross-record calls.
type envs struct {
	spec    *spec.Spec
	base    *cel.Env
	scoped  map[scope]*cel.Env
	objects map[string]*objType // the provider's object types, for hintFields
}

func newEnvs(s *spec.Spec) (*envs, error) {
	p, err := newProvider(s)
	if err != nil {
		return nil, err
	}
	opts := []cel.EnvOption{
		cel.CustomTypeProvider(p), cel.CustomTypeAdapter(p.Registry),
		cel.Variable(varAuth, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(varNow, cel.TimestampType),
		cel.Variable(varOperation, cel.StringType),
		cel.Variable(varState, cel.DynType),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxExprLen),
		cel.ParserRecursionLimit(maxDepth),
	}
	opts = append(opts, decimalOptions()...)
	opts = append(opts, dateOptions()...)
	opts = append(opts, crossRecordFunctions(s)...)
	base, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("cel logic env: %w", err)
	}
	return &envs{spec: s, base: base, scoped: map[scope]*cel.Env{}, objects: p.objects}, nil
}

func (e *envs) env(sc scope) (*cel.Env, error) {
	if env := e.scoped[sc]; env != nil {
		return env, nil
	}
	var opts []cel.EnvOption
	if sc.resource != "" {
		opts = append(opts, cel.Variable(varRecord, objectType(sc.resource)), cel.Variable(varOld, objectType(sc.resource)))
	}
	if sc.trigger {
		opts = append(opts, cel.Variable(varNew, objectType(sc.resource)))
	}
	if sc.input != "" {
		opts = append(opts, cel.Variable(varInput, cel.ObjectType(inputType(sc.resource, sc.input))))
	}
	if sc.item != "" {
		opts = append(opts, cel.Variable(varItem, objectType(sc.item)))
	}
	if sc.target != "" {
		opts = append(opts, cel.Variable(varTarget, objectType(sc.target)))
	}
	env, err := e.base.Extend(opts...)
	if err != nil {
		return nil, err
	}
	e.scoped[sc] = env
	return env, nil
}

// compiled is one checked expression with the cross-record calls it makes.
type compiled struct {
	ast   *cel.Ast
	sites []*site
	scope scope
}

// compile parses and type-checks src in sc; want, when set, is the type it must have. strict
// also refuses what type-checks but cannot be meant (checkEnumTexts, checkAuthAttrs): an expression being
// validated — the spec's, a condition the admin API is given — not one stored earlier and
// compiled again for a write, which must go on deciding as it did.
func (e *envs) compile(sc scope, src string, want *cel.Type, strict bool) (*compiled, error) {
	env, err := e.env(sc)
	if err != nil {
		return nil, err
	}
	c := &compiled{scope: sc}
	env, err = env.Extend(cel.Macros(c.macros()...))
	if err != nil {
		return nil, err
	}
	parsed, iss := env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("%s", cleanIssues(iss.Err().Error()))
	}
	if parsed, err = e.followRelations(c, sc, parsed); err != nil {
		return nil, err
	}
	checked, iss := env.Check(parsed)
	if iss != nil && iss.Err() != nil {
		e.hintFields(sc, parsed, iss)
		return nil, fmt.Errorf("%s", cleanIssues(iss.Err().Error()))
	}
	if err := checkZones(checked.NativeRep()); err != nil {
		return nil, err
	}
	if strict {
		if err := checkEnumTexts(checked.NativeRep(), e.scopeEnums(checked.NativeRep())); err != nil {
			return nil, err
		}
		if err := checkAuthAttrs(checked.NativeRep()); err != nil {
			return nil, err
		}
		if err := expr.CheckRoleTexts(checked.NativeRep(), e.spec); err != nil {
			return nil, err
		}
	}
	if checked, err = widen(env, checked); err != nil {
		return nil, err
	}
	if want != nil && !assignable(want, checked.OutputType()) {
		return nil, fmt.Errorf("must be of type %s, not %s", typeName(want), typeName(checked.OutputType()))
	}
	c.ast = checked
	for _, s := range c.sites {
		if s.kind == siteGet {
			continue
		}
		if s.where, err = e.filterTemplate(c, sc, s.resource, s.filter, strict); err != nil {
			return nil, fmt.Errorf("%s('%s', …): %w", s.kind, s.resource, err)
		}
	}
	return c, nil
}

// assignable reports whether a value of type got can be stored where want is expected:
// numbers widen to decimals and doubles exactly as the store converts them.
func assignable(want, got *cel.Type) bool {
	switch {
	case got.Kind() == types.DynKind || want.IsAssignableType(got):
		return true
	case isDecimal(want):
		return got.Kind() == types.IntKind || got.Kind() == types.DoubleKind
	case want.Kind() == types.DoubleKind:
		return got.Kind() == types.IntKind || isDecimal(got)
	}
	return false
}

func typeName(t *cel.Type) string {
	if isDecimal(t) {
		return "decimal"
	}
	return t.String()
}

// macros turn each cross-record call into a call of a state-bound function with the index
// of its site: count('loans', 'member == record.member') → __kiln_count(__kiln, 0).
func (c *compiled) macros() []cel.Macro {
	literal := func(eh parser.ExprHelper, e celast.Expr, what string) (string, *celErr) {
		if e.Kind() != celast.LiteralKind {
			return "", eh.NewError(e.ID(), what+" must be a constant string")
		}
		s, ok := e.AsLiteral().Value().(string)
		if !ok {
			return "", eh.NewError(e.ID(), what+" must be a constant string")
		}
		return s, nil
	}
	filterMacro := func(kind string, args int) cel.Macro {
		return cel.GlobalMacro(kind, args, func(eh parser.ExprHelper, _ celast.Expr, in []celast.Expr) (celast.Expr, *celErr) {
			res, err := literal(eh, in[0], kind+"'s resource")
			if err != nil {
				return nil, err
			}
			st := &site{kind: kind, resource: res}
			if args == 3 {
				if st.field, err = literal(eh, in[1], kind+"'s field"); err != nil {
					return nil, err
				}
			}
			if st.filter, err = literal(eh, in[args-1], kind+"'s filter"); err != nil {
				return nil, err
			}
			c.sites = append(c.sites, st)
			idx := eh.NewLiteral(types.Int(len(c.sites) - 1))
			return eh.NewCall(siteFunction(kind, res, st.field), eh.NewIdent(varState), idx), nil
		})
	}
	get := cel.GlobalMacro(siteGet, 2, func(eh parser.ExprHelper, _ celast.Expr, in []celast.Expr) (celast.Expr, *celErr) {
		res, err := literal(eh, in[0], "get's resource")
		if err != nil {
			return nil, err
		}
		c.sites = append(c.sites, &site{kind: siteGet, resource: res})
		idx := eh.NewLiteral(types.Int(len(c.sites) - 1))
		return eh.NewCall(siteFunction(siteGet, res, ""), eh.NewIdent(varState), idx, in[1]), nil
	})
	return []cel.Macro{filterMacro(siteCount, 2), filterMacro(siteExists, 2), get,
		filterMacro(siteSum, 3), filterMacro(siteMin, 3), filterMacro(siteMax, 3)}
}

// siteFunction names the state-bound function a cross-record call becomes. get and the
// aggregates are typed by their resource (and field), so results are type-checked.
func siteFunction(kind, resource, field string) string {
	switch kind {
	case siteCount, siteExists:
		return "__kiln_" + kind
	case siteGet:
		return "__kiln_get_" + resource
	}
	return "__kiln_" + kind + "_" + resource + "_" + field
}

// cleanIssues keeps CEL's messages but drops its "<input>" naming and the caret drawing.
func cleanIssues(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "ERROR:") {
			out = append(out, "at "+dateHint(withoutInternalNames(strings.TrimPrefix(line, "ERROR: <input>:"))))
		}
	}
	if len(out) == 0 {
		return "not a valid expression"
	}
	return strings.Join(out, "; ")
}

// dateHint adds to CEL's refusal to compare text with a timestamp how a date field (text,
// YYYY-MM-DD) is compared with now: a trial tried string(now), which no date equals; and to
// its refusal of today, which Kiln does not declare, what to write instead.
func dateHint(line string) string {
	if strings.Contains(line, "undeclared reference to 'today'") { // today and today()
		return line + " (the time of the write is now; the day, as a date field holds it, date(now))"
	}
	for _, pair := range []string{"(string, timestamp)", "(timestamp, string)", "(wrapper(string), timestamp)", "(timestamp, wrapper(string))"} {
		if strings.Contains(line, "applied to '"+pair+"'") {
			return line + " (a date field is text, YYYY-MM-DD: compare it with date(now), the day in UTC, or date(now, 'Europe/Berlin'))"
		}
	}
	return line
}

// withoutInternalNames drops from CEL's "(did you mean 'a' or 'b'?)" the names of Kiln's own
// functions (__kiln_count…), which no spec can write: a trial's misspelled field was offered
// '__kiln_count'.
func withoutInternalNames(line string) string {
	i := strings.LastIndex(line, " (did you mean ")
	if i < 0 || !strings.HasSuffix(line, "?)") {
		return line
	}
	var keep []string
	for _, name := range strings.Split(line[i+len(" (did you mean "):len(line)-2], " or ") {
		if !strings.HasPrefix(strings.Trim(name, "'"), "__kiln") {
			keep = append(keep, name)
		}
	}
	if len(keep) == 0 {
		return line[:i]
	}
	return line[:i] + " (did you mean " + strings.Join(keep, " or ") + "?)"
}

type celErr = cel.Error
