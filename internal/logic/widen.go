package logic

import (
	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
)

// widenedOps are the operators whose left operand is widened to decimal when the right one
// is a decimal: CEL dispatches them on the left operand, and an int knows no decimals.
var widenedOps = map[string]bool{
	operators.Add: true, operators.Subtract: true, operators.Multiply: true, operators.Divide: true,
	operators.Less: true, operators.LessEquals: true, operators.Greater: true, operators.GreaterEquals: true,
}

// widen rewrites `2 * record.price` as `decimal(2) * record.price` in a checked expression and
// checks it again; expressions without such a mix come back unchanged.
func widen(env *cel.Env, checked *cel.Ast) (*cel.Ast, error) {
	native := checked.NativeRep()
	next := maxID(native.Expr()) + 1
	fac := celast.NewExprFactory()
	changed := false
	celast.PostOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.CallKind || !widenedOps[e.AsCall().FunctionName()] || len(e.AsCall().Args()) != 2 {
			return
		}
		left, right := e.AsCall().Args()[0], e.AsCall().Args()[1]
		lt, rt := native.GetType(left.ID()), native.GetType(right.ID())
		if !isDecimal(rt) || (lt.Kind() != types.IntKind && lt.Kind() != types.DoubleKind) {
			return
		}
		fn := e.AsCall().FunctionName()
		wide := fac.NewCall(next, "decimal", fac.CopyExpr(left))
		e.SetKindCase(fac.NewCall(e.ID(), fn, wide, fac.CopyExpr(right)))
		next++
		changed = true
	}))
	if !changed {
		return checked, nil
	}
	pbExpr, err := celast.ExprToProto(native.Expr())
	if err != nil {
		return nil, err
	}
	info, err := celast.SourceInfoToProto(native.SourceInfo())
	if err != nil {
		return nil, err
	}
	again, iss := env.Check(cel.ParsedExprToAst(&exprpb.ParsedExpr{Expr: pbExpr, SourceInfo: info}))
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	return again, nil
}

func maxID(e celast.Expr) int64 {
	var m int64
	celast.PostOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		if x.ID() > m {
			m = x.ID()
		}
	}))
	return m
}

func isDecimal(t *types.Type) bool { return t != nil && t.TypeName() == DecimalType.TypeName() }
