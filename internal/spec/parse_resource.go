package spec

import (
	"strconv"

	"github.com/goccy/go-yaml/ast"
)

var (
	resourceKeys = []string{"fields", "indexes", "access", "description", "rules", "effects", "actions", "triggers", "soft_delete", "retention", "payable"}
	fieldKeys    = []string{"type", "required", "unique", "readonly", "hidden", "default", "example", "min", "max",
		"min_length", "max_length", "pattern", "values", "precision", "scale", "to", "many", "inverse", "description", "write",
		"allow_hidden", "compute", "default_expr", "rollup", "transitions", "initial", "nested",
		"max_size", "accept", "thumbnails", "max_files", "public"}
	indexKeys  = []string{"name", "fields", "unique"}
	accessKeys = []string{"list", "view", "create", "update", "delete"}
)

func (w *walker) resources(n ast.Node) []*Resource {
	entries, _ := w.mapping(n, "resources")
	out := make([]*Resource, 0, len(entries))
	for _, e := range entries {
		out = append(out, w.resource(e))
	}
	return out
}

func (w *walker) resource(e entry) *Resource {
	r := &Resource{Pos: e.pos, Name: e.key}
	entries, _ := w.mapping(e.value, "resource "+e.key, resourceKeys...)
	for _, re := range entries {
		switch re.key {
		case "fields":
			fields, _ := w.mapping(re.value, "fields of "+e.key)
			for _, fe := range fields {
				r.Fields = append(r.Fields, w.field(fe))
			}
		case "indexes":
			for _, item := range w.list(re.value, "indexes of "+e.key) {
				r.Indexes = append(r.Indexes, w.index(item))
			}
		case "access":
			r.Access = map[Action]*Rule{}
			rules, _ := w.mapping(re.value, "access of "+e.key, accessKeys...)
			for _, ae := range rules {
				r.Access[Action(ae.key)] = w.rule(ae)
			}
		case "description":
			w.str(re.value, "description")
		case "rules":
			r.Rules = w.logicRules(re.value, e.key)
		case "effects":
			r.Effects = w.effects(re.value, e.key)
		case "actions":
			r.Actions = w.actions(re.value, e.key)
		case "triggers":
			r.Triggers = w.triggers(re.value, e.key)
		case "soft_delete":
			r.SoftDelete = w.boolean(re.value, "soft_delete")
		case "retention":
			r.Retention = w.duration(re.value, "retention")
		case "payable":
			r.Payable = w.payable(re)
		}
	}
	return r
}

func (w *walker) field(e entry) *Field {
	f := &Field{Pos: e.pos, Name: e.key, Scale: -1}
	if _, isMap := unwrap(e.value).(*ast.MappingNode); !isMap {
		if _, isMV := unwrap(e.value).(*ast.MappingValueNode); !isMV {
			f.Type = FieldType(w.str(e.value, "type of field "+e.key))
			return f
		}
	}
	entries, _ := w.mapping(e.value, "field "+e.key, fieldKeys...)
	var to string
	var many bool
	var inverse string
	for _, fe := range entries {
		what := e.key + "." + fe.key
		switch fe.key {
		case "type":
			f.Type = FieldType(w.str(fe.value, what))
		case "required":
			f.Required = w.boolean(fe.value, what)
		case "unique":
			f.Unique = w.boolean(fe.value, what)
		case "readonly":
			f.Readonly = w.boolean(fe.value, what)
		case "hidden":
			f.Hidden = w.boolean(fe.value, what)
		case "default":
			w.fieldDefault(f, fe.value)
		case "example":
			if v, null, ok := w.scalar(fe.value, what); ok && !null {
				f.Example = &v
			}
		case "min", "max":
			w.bound(f, fe)
		case "min_length", "max_length":
			w.length(f, fe)
		case "pattern":
			f.Pattern = w.str(fe.value, what)
		case "values":
			f.Values = w.strings(fe.value, what)
		case "precision", "scale":
			v, _ := w.integer(fe.value, what)
			if fe.key == "precision" {
				f.Precision, f.precisionSet = int(v), true
			} else {
				f.Scale, f.scaleSet = int(v), true
			}
		case "to":
			to = w.str(fe.value, what)
		case "many":
			many = w.boolean(fe.value, what)
		case "inverse":
			inverse = w.str(fe.value, what)
		default:
			w.fieldMore(f, fe, what)
		}
	}
	w.relation(f, to, many, inverse)
	return f
}

// fieldMore reads a field's remaining keys: access, file options and business logic.
func (w *walker) fieldMore(f *Field, fe entry, what string) {
	switch fe.key {
	case "description":
		w.str(fe.value, what)
	case "write":
		f.Write = w.strings(fe.value, what)
	case "allow_hidden":
		f.AllowHidden = w.boolean(fe.value, what)
	default:
		if !w.fileOption(f, fe, what) {
			w.fieldLogic(f, fe, what)
		}
	}
}

// fieldLogic reads a field's business-logic keys: computed values, rollups, state machines,
// nested children.
func (w *walker) fieldLogic(f *Field, fe entry, what string) {
	switch fe.key {
	case "compute":
		f.Compute = w.expr(fe.value, what)
	case "default_expr":
		f.DefaultExpr = w.expr(fe.value, what)
	case "rollup":
		w.rollup(f, fe.value)
	case "transitions":
		w.transitions(f, fe.value)
	case "initial":
		f.Initial = w.strings(fe.value, what)
	case "nested":
		f.Nested = w.boolean(fe.value, what)
	}
}

func (w *walker) relation(f *Field, to string, many bool, inverse string) {
	if to == "" && (many || inverse != "") {
		w.add(f.Pos, "field %s: many and inverse need to: <resource>", f.Name)
		return
	}
	if to == "" {
		return
	}
	if f.Type == "" {
		f.Type = TypeRelation
	}
	rel := &Relation{Kind: RelToOne, To: to}
	switch {
	case many && inverse != "":
		w.add(f.Pos, "field %s: a relation is either many: true or inverse:, not both", f.Name)
	case many:
		rel.Kind = RelToMany
	case inverse != "":
		rel.Kind, rel.Inverse = RelInverse, inverse
	}
	f.Relation = rel
}

func (w *walker) fieldDefault(f *Field, n ast.Node) {
	s, null, ok := w.scalar(n, f.Name+".default")
	if !ok {
		return
	}
	f.HasDefault = true
	if !null {
		f.Default = s
	}
}

func (w *walker) bound(f *Field, e entry) {
	s, _, ok := w.scalar(e.value, f.Name+"."+e.key)
	if !ok {
		return
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		w.add(w.pos(e.value), "%s.%s must be a number, not %q", f.Name, e.key, s)
		return
	}
	if e.key == "min" {
		f.Min = &s
	} else {
		f.Max = &s
	}
}

func (w *walker) length(f *Field, e entry) {
	v, ok := w.integer(e.value, f.Name+"."+e.key)
	if !ok {
		return
	}
	if v < 0 {
		w.add(w.pos(e.value), "%s.%s must not be negative", f.Name, e.key)
		return
	}
	n := int(v)
	if e.key == "min_length" {
		f.MinLength = &n
	} else {
		f.MaxLength = &n
	}
}

func (w *walker) index(n ast.Node) *Index {
	ix := &Index{Pos: w.pos(n)}
	entries, _ := w.mapping(n, "index", indexKeys...)
	for _, e := range entries {
		switch e.key {
		case "name":
			ix.Name = w.str(e.value, "index name")
		case "fields":
			ix.Fields = w.strings(e.value, "index fields")
		case "unique":
			ix.Unique = w.boolean(e.value, "index unique")
		}
	}
	return ix
}
