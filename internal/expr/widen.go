package expr

import (
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// CEL's checker compares a double with an integer by < and > (CrossTypeNumericComparisons),
// but has no == or != between them: "price == 0" on a decimal or number field was refused
// ("== cannot be applied to a number and an integer") while "price >= 0" and "price == 0.0"
// were not. widenInts retypes each integer constant that a decimal or number field is
// compared with by ==, != or in as a double for the check, and keeps its value (by the
// literal's id) for the translation: a decimal is compared with the integer exactly, not with
// its nearest double.
func (f *Filter) widenInts(e celast.Expr, kept map[int64]ref.Val) {
	if e.Kind() != celast.CallKind {
		return
	}
	c := e.AsCall()
	args := c.Args()
	switch c.FunctionName() {
	case operators.Equals, operators.NotEquals:
		if len(args) == 2 {
			f.widenAgainst(args[0], args[1], kept)
			f.widenAgainst(args[1], args[0], kept)
		}
	case operators.In:
		if len(args) == 2 && f.numeric(args[0]) && args[1].Kind() == celast.ListKind {
			for _, el := range args[1].AsList().Elements() {
				widen(el, kept)
			}
		}
	}
	for _, a := range args {
		f.widenInts(a, kept)
	}
}

// widenAgainst widens lit when field is a decimal or number field.
func (f *Filter) widenAgainst(field, lit celast.Expr, kept map[int64]ref.Val) {
	if f.numeric(field) {
		widen(lit, kept)
	}
}

// numeric reports whether e names a decimal or number field.
func (f *Filter) numeric(e celast.Expr) bool {
	if e.Kind() != celast.IdentKind {
		return false
	}
	k, ok := f.kinds[e.AsIdent()]
	return ok && (k == kindDecimal || k == kindFloat)
}

// widen makes the integer literal e a double one, keeping its value in kept.
func widen(e celast.Expr, kept map[int64]ref.Val) {
	if e.Kind() != celast.LiteralKind {
		return
	}
	var d float64
	switch v := e.AsLiteral().(type) {
	case types.Int:
		d = float64(v)
	case types.Uint:
		d = float64(v)
	default:
		return
	}
	kept[e.ID()] = e.AsLiteral()
	e.SetKindCase(celast.NewExprFactory().NewLiteral(e.ID(), types.Double(d)))
}
