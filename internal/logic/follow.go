package logic

import (
	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"

	"github.com/kiln-dev/kiln/internal/spec"
)

// followRelations rewrites record.loan.member (a field of the record a to-one relation points
// at) as get('loans', record.loan).member in a parsed expression, hop by hop, so rules and
// computed values follow relations with get's semantics: read in the write's transaction,
// locked on PostgreSQL, an error when the related record is missing. Expressions without
// such a path come back unchanged.
func (e *envs) followRelations(c *compiled, sc scope, parsed *cel.Ast) (*cel.Ast, error) {
	native := parsed.NativeRep()
	f := &follower{e: e, c: c, sc: sc, fac: celast.NewExprFactory(), next: maxID(native.Expr()) + 1, of: map[int64]string{}}
	celast.PostOrderVisit(native.Expr(), celast.NewExprVisitor(f.visit))
	if !f.changed {
		return parsed, nil
	}
	pbExpr, err := celast.ExprToProto(native.Expr())
	if err != nil {
		return nil, err
	}
	info, err := celast.SourceInfoToProto(native.SourceInfo())
	if err != nil {
		return nil, err
	}
	return cel.ParsedExprToAst(&exprpb.ParsedExpr{Expr: pbExpr, SourceInfo: info}), nil
}

type follower struct {
	e       *envs
	c       *compiled
	sc      scope
	fac     celast.ExprFactory
	next    int64
	of      map[int64]string // get calls made here: node id → the resource they read
	changed bool
}

// visit turns the operand of a select into a get when the operand is itself a select of a
// to-one relation from a record: in record.loan.member, record.loan becomes the loan.
func (f *follower) visit(e celast.Expr) {
	if e.Kind() != celast.SelectKind || e.AsSelect().IsTestOnly() {
		return
	}
	op := e.AsSelect().Operand()
	if op.Kind() != celast.SelectKind || op.AsSelect().IsTestOnly() {
		return
	}
	from := f.recordOf(op.AsSelect().Operand())
	if from == "" {
		return
	}
	r := f.e.spec.Resource(from)
	rel := r.Field(op.AsSelect().FieldName())
	if rel == nil || rel.Relation == nil || rel.Relation.Kind != spec.RelToOne || !rel.Stored() {
		return
	}
	f.c.sites = append(f.c.sites, &site{kind: siteGet, resource: rel.Relation.To})
	idx := f.fac.NewLiteral(f.id(), types.Int(len(f.c.sites)-1))
	ref := f.fac.NewSelect(f.id(), f.fac.CopyExpr(op.AsSelect().Operand()), rel.Name)
	op.SetKindCase(f.fac.NewCall(op.ID(), siteFunction(siteGet, rel.Relation.To, ""), f.fac.NewIdent(f.id(), varState), idx, ref))
	f.of[op.ID()] = rel.Relation.To
	f.changed = true
}

// recordOf names the resource a record-valued expression holds: record and old are the
// scope's resource, a get made here its target; "" for anything else.
func (f *follower) recordOf(e celast.Expr) string {
	switch e.Kind() {
	case celast.IdentKind:
		if name := e.AsIdent(); (name == varRecord || name == varOld) && f.sc.resource != "" {
			return f.sc.resource
		}
	case celast.CallKind:
		return f.of[e.ID()]
	}
	return ""
}

func (f *follower) id() int64 {
	f.next++
	return f.next - 1
}
