package expr

import (
	"slices"
	"strings"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// operand is either a record field or a constant.
type operand struct {
	field string
	path  []string // to-one relations followed to reach field: record.loan.member is [loan]
	on    *ruleFields
	value any
	list  []any
	isVal bool
	// missing marks an auth attribute the principal lacks (auth.id of an API key): a record
	// field compared with it is false, as comparisons with missing values are.
	missing bool
	root    string // the resource whose field it is, for an exists() filter's (bare)
	bare    bool
	literal bool // written in the rule (a constant or a list of them), not an auth attribute
}

func (t ruleTranslator) operand(e celast.Expr) (operand, error) {
	switch e.Kind() {
	case celast.LiteralKind:
		v := e.AsLiteral()
		if v == types.NullValue {
			return operand{isVal: true, literal: true}, nil
		}
		return operand{value: v.Value(), isVal: true, literal: true}, nil
	case celast.ListKind:
		var list []any
		for _, el := range e.AsList().Elements() {
			o, err := t.operand(el)
			if err != nil || !o.isVal {
				return operand{}, errf("lists in rules hold constants only")
			}
			list = append(list, o.value)
		}
		return operand{list: list, isVal: true, literal: true}, nil
	case celast.IdentKind:
		if t.bare {
			return t.fieldAt(nil, e.AsIdent())
		}
	case celast.SelectKind:
		s := e.AsSelect()
		if s.Operand().Kind() == celast.SelectKind {
			return t.pathOperand(s)
		}
		if s.Operand().Kind() != celast.IdentKind {
			return operand{}, errf("use record.<field> or auth.<id|role|roles>")
		}
		return t.selectOperand(s.Operand().AsIdent(), s.FieldName())
	}
	return operand{}, errf("rules compare record fields with constants and auth attributes")
}

// pathOperand reads record.<relation>…<field>: a field of the record that a chain of to-one
// relations points at.
func (t ruleTranslator) pathOperand(s celast.SelectExpr) (operand, error) {
	var names []string
	e := celast.Expr(nil)
	for cur := s; ; {
		names = append([]string{cur.FieldName()}, names...)
		e = cur.Operand()
		if e.Kind() != celast.SelectKind {
			break
		}
		cur = e.AsSelect()
	}
	switch {
	case e.Kind() != celast.IdentKind:
		return operand{}, errf("only record.<relation>.<field> follows a relation")
	case t.bare && e.AsIdent() == "record":
		return operand{}, errTie(strings.Join(names, "."))
	case t.bare:
		return t.fieldAt(append([]string{e.AsIdent()}, names[:len(names)-1]...), names[len(names)-1])
	case e.AsIdent() != "record":
		return operand{}, errf("only record.<relation>.<field> follows a relation")
	}
	return t.fieldAt(names[:len(names)-1], names[len(names)-1])
}

// fieldAt is the operand for field of the record that path's to-one relations lead to.
func (t ruleTranslator) fieldAt(path []string, field string) (operand, error) {
	on, text := t.fields, "record"
	if t.bare {
		text = t.fields.name
	}
	for _, rel := range path {
		text += "." + rel
		next, ok := on.rels[rel]
		if !ok {
			return operand{}, errf("%s is not a to-one relation that rules can follow", text)
		}
		on = next
	}
	if _, ok := on.kinds[field]; !ok {
		return operand{}, errf("%s.%s is not a field that rules can check", text, field)
	}
	return operand{field: field, path: path, on: on, root: t.fields.name, bare: t.bare}, nil
}

func (t ruleTranslator) selectOperand(root, name string) (operand, error) {
	switch {
	case root == "record" && t.bare:
		return operand{}, errTie(name)
	case root == "record":
		return t.fieldAt(nil, name)
	case t.bare && root != "auth":
		return t.fieldAt([]string{root}, name)
	case root != "auth":
		return operand{}, errf("unknown variable %s", root)
	}
	if t.auth == nil {
		return operand{isVal: true}, nil
	}
	switch name {
	case "id":
		return attribute(t.auth.ID), nil
	case "role":
		return attribute(t.auth.Role), nil
	case "key":
		return attribute(t.auth.Key), nil
	case "roles":
		list := make([]any, len(t.auth.Roles))
		for i, r := range t.auth.Roles {
			list[i] = r
		}
		return operand{list: list, isVal: true, literal: true}, nil
	}
	return operand{}, errf("auth.%s is not an auth attribute (id, role, roles, key)", name)
}

// attribute is an auth attribute's value, or a missing one when the principal has none.
func attribute(v string) operand {
	if v == "" {
		return operand{isVal: true, missing: true}
	}
	return operand{value: v, isVal: true}
}

// enumText refuses a text the rule compares an enum field with that is none of its values
// (record.status == 'pendng', role != 'viewr' in an exists() filter), as logic refuses one:
// such a typo holds for no record, or, negated, for every one. A value of auth's is decided
// per request.
func (o operand) enumText(with operand, v any) error {
	f := o.on.fields[o.field]
	s, ok := v.(string)
	if !with.literal || !ok || f == nil || f.Type != spec.TypeEnum || slices.Contains(f.Values, s) {
		return nil
	}
	return errf("%s is never %q: its values are %s", o.name(), s, strings.Join(f.Values, ", "))
}

// wrap puts a condition on the operand's field under the relations its path follows.
func (o operand) wrap(c query.Cond) query.Cond {
	for i := len(o.path) - 1; i >= 0; i-- {
		c = query.Rel{Field: o.path[i], Cond: c}
	}
	return c
}

// name is the operand as the rule wrote it: record.loan.member.
func (o operand) name() string {
	root := "record"
	if o.bare {
		root = o.root
	}
	return strings.Join(append(append([]string{root}, o.path...), o.field), ".")
}
