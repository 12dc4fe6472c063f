package logic

import (
	"context"
	"fmt"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// program is one compiled expression, ready to evaluate many times.
type program struct {
	src   string
	prog  cel.Program
	sites []*site
	// deps are the record fields the expression reads (record.<field>).
	deps []string
	// bare is the field an expression that is only a field of the record is (new.owner), else "".
	bare string
}

// build compiles src in sc into a program; want, when set, is its required type.
func (e *envs) build(sc scope, src string, want *cel.Type, strict bool) (*program, error) {
	c, err := e.compile(sc, src, want, strict)
	if err != nil {
		return nil, err
	}
	env, err := e.env(sc)
	if err != nil {
		return nil, err
	}
	prog, err := env.Program(c.ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	x := c.ast.NativeRep().Expr()
	p := &program{src: src, prog: prog, sites: c.sites, deps: recordDeps(x), bare: bareField(x)}
	for _, s := range c.sites {
		if s.where != nil { // count('notes', 'owner == record.owner') reads record.owner too
			p.deps = append(p.deps, s.where.deps...)
		}
		if f := e.spec.Resource(s.resource); f != nil && s.field != "" {
			if fld := f.Field(s.field); fld != nil {
				s.ftype = fld.Type
			}
		}
	}
	return p, nil
}

// recordDeps lists the fields an expression reads from record.
func recordDeps(e celast.Expr) []string {
	var out []string
	celast.PostOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		if x.Kind() != celast.SelectKind {
			return
		}
		op := x.AsSelect().Operand()
		if op.Kind() == celast.IdentKind && op.AsIdent() == varRecord {
			out = append(out, x.AsSelect().FieldName())
		}
	}))
	return out
}

// bareField is the field e selects from the record (record, new or old) when e is nothing else.
func bareField(e celast.Expr) string {
	if e.Kind() != celast.SelectKind || e.AsSelect().IsTestOnly() {
		return ""
	}
	op := e.AsSelect().Operand()
	if op.Kind() != celast.IdentKind {
		return ""
	}
	switch op.AsIdent() {
	case varRecord, varNew, varOld:
		return e.AsSelect().FieldName()
	}
	return ""
}

// eval runs the program with vars, reading other records through reader.
func (p *program) eval(ctx context.Context, reader Reader, vars *Vars) (ref.Val, error) {
	st := &evalState{ctx: ctx, reader: reader, vars: vars, sites: p.sites}
	out, _, err := p.prog.ContextEval(ctx, vars.activation(st))
	if st.err != nil {
		return nil, st.err // the database failed: not a verdict on the record
	}
	if err != nil {
		return nil, &EvalError{Expr: p.src, Err: err}
	}
	return out, nil
}

// holds evaluates a condition.
func (p *program) holds(ctx context.Context, reader Reader, vars *Vars) (bool, error) {
	out, err := p.eval(ctx, reader, vars)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, &EvalError{Expr: p.src, Err: fmt.Errorf("gave %v, not true or false", out.Type().TypeName())}
	}
	return bool(b), nil
}

// EvalError is an expression that could not be computed for a record (a missing value, a
// division by zero, a missing related record).
type EvalError struct {
	Expr string
	Err  error
}

func (e *EvalError) Error() string { return fmt.Sprintf("%q: %v", e.Expr, e.Err) }

// Unwrap exposes the cause.
func (e *EvalError) Unwrap() error { return e.Err }
