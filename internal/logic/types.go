package logic

import (
	"fmt"
	"reflect"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// typePrefix names a resource's CEL object type: kiln.loans.
const typePrefix = "kiln."

// provider declares one CEL object type per resource (kiln.<resource>) and per action input
// (kiln.<resource>.<action>.input), so `record.member`, `input.reason` and
// `get('products', id).stock` are type-checked against the spec when it loads.
type provider struct {
	*types.Registry
	objects map[string]*objType
}

// objType is one declared object type: its fields' CEL types in order.
type objType struct {
	names  []string
	fields map[string]*types.Type
}

func newProvider(s *spec.Spec) (*provider, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	p := &provider{Registry: reg, objects: map[string]*objType{}}
	for _, r := range s.Resources {
		o := &objType{fields: map[string]*types.Type{}}
		for _, name := range spec.SystemFields {
			o.add(name, systemType(name))
		}
		for _, f := range r.Fields {
			if !f.Hidden {
				o.add(f.Name, fieldCELType(f))
			}
		}
		p.objects[typePrefix+r.Name] = o
		for _, a := range r.Actions {
			in := &objType{fields: map[string]*types.Type{}}
			for _, f := range a.Input {
				in.add(f.Name, fieldCELType(f))
			}
			p.objects[inputType(r.Name, a.Name)] = in
		}
	}
	return p, nil
}

func inputType(resource, action string) string {
	return typePrefix + resource + "." + action + ".input"
}

func (o *objType) add(name string, t *types.Type) {
	o.names = append(o.names, name)
	o.fields[name] = t
}

// FindStructType answers for Kiln's object types, and defers to the registry otherwise.
func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if p.objects[name] != nil {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Registry.FindStructType(name)
}

// FindStructFieldNames lists an object type's fields.
func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if o := p.objects[name]; o != nil {
		return o.names, true
	}
	return p.Registry.FindStructFieldNames(name)
}

// FindStructFieldType types a field; reads go through the Record value.
func (p *provider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	o := p.objects[name]
	if o == nil {
		return p.Registry.FindStructFieldType(name, field)
	}
	t, ok := o.fields[field]
	if !ok {
		return nil, false
	}
	return &types.FieldType{Type: t,
		IsSet:   func(obj any) bool { return obj.(*Record).has(field) },
		GetFrom: func(obj any) (any, error) { return obj.(*Record).get(field) }}, true
}

func systemType(name string) *types.Type {
	if name == "id" {
		return types.StringType
	}
	return types.TimestampType
}

// fieldCELType is the CEL type of a field as expressions see it.
func fieldCELType(f *spec.Field) *types.Type {
	if f.IsToMany() || f.IsInverse() {
		return types.NewListType(types.StringType)
	}
	switch f.Type {
	case spec.TypeInteger:
		return types.IntType
	case spec.TypeNumber:
		return types.DoubleType
	case spec.TypeDecimal:
		return DecimalType
	case spec.TypeBoolean:
		return types.BoolType
	case spec.TypeDatetime:
		return types.TimestampType
	case spec.TypeJSON, spec.TypeFile:
		return types.DynType
	}
	return types.StringType // string, text, email, url, uuid, date (YYYY-MM-DD), enum, to-one ids
}

// Record is a record as CEL sees it: its fields' values by name (absent when null).
type Record struct {
	Resource string
	Input    string         // the action, when the record is an action's input
	Fields   map[string]any // Go values as the store keeps them
}

var _ ref.Val = (*Record)(nil)

func (r *Record) has(field string) bool {
	v, ok := r.Fields[field]
	return ok && v != nil
}

func (r *Record) get(field string) (any, error) {
	v, ok := r.Fields[field]
	if !ok || v == nil {
		return nil, fmt.Errorf("%s.%s has no value (test it with has(…) first)", r.Resource, field)
	}
	return celValue(v), nil
}

// celValue turns a store value into what CEL expressions compute with.
func celValue(v any) any {
	switch x := v.(type) {
	case value.Decimal:
		return decimalOf(x)
	case time.Time:
		return types.Timestamp{Time: x}
	case []string:
		return types.NewStringList(types.DefaultTypeAdapter, x)
	}
	return v
}

// ConvertToNative is not supported: records are read, not converted.
func (r *Record) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("a %s record cannot be converted", r.Resource)
}

// ConvertToType supports only its own type.
func (r *Record) ConvertToType(t ref.Type) ref.Val {
	if t.TypeName() == r.typeName() {
		return r
	}
	return types.NewErr("a %s record cannot become %s", r.Resource, t.TypeName())
}

// Equal compares records by id.
func (r *Record) Equal(other ref.Val) ref.Val {
	o, ok := other.(*Record)
	return types.Bool(ok && o.Resource == r.Resource && o.Fields["id"] == r.Fields["id"])
}

// Type is the record's object type.
func (r *Record) Type() ref.Type { return types.NewObjectType(r.typeName()) }

func (r *Record) typeName() string {
	if r.Input != "" {
		return inputType(r.Resource, r.Input)
	}
	return typePrefix + r.Resource
}

// Value is the record itself (field reads go through the provider's getters).
func (r *Record) Value() any { return r }

func objectType(resource string) *cel.Type { return cel.ObjectType(typePrefix + resource) }
