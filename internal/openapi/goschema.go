package openapi

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

var (
	timeType      = reflect.TypeFor[time.Time]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	numberType    = reflect.TypeFor[json.Number]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
)

// SchemaOf is the JSON Schema of what encoding/json makes of a value of Go type t: structs
// by their exported fields and json tags, pointers nullable, time.Time a date-time, []byte
// base64 text. A type with its own MarshalJSON, an interface or a type met again inside
// itself (a tree) is any JSON value; a channel or a function, which encoding/json refuses, too.
func SchemaOf(t reflect.Type) map[string]any {
	return schemaOf(t, map[reflect.Type]bool{})
}

func schemaOf(t reflect.Type, seen map[reflect.Type]bool) obj {
	switch {
	case t == nil || t == rawType || seen[t]:
		return obj{}
	case t == timeType:
		return obj{"type": "string", "format": "date-time"}
	case t == numberType:
		return obj{"type": "number"}
	case t.Kind() != reflect.Pointer && (t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType)):
		return obj{}
	case t.Kind() != reflect.Pointer && (t.Implements(textType) || reflect.PointerTo(t).Implements(textType)):
		return obj{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return obj{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Pointer:
		return nullable(schemaOf(t.Elem(), seen), true)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return obj{"type": "string", "description": "base64 (encoding/json's []byte)"}
		}
		s := obj{"type": "array", "items": within(t, t.Elem(), seen)}
		if t.Kind() == reflect.Slice {
			s["type"] = []string{"array", "null"} // a nil slice is null
		}
		return s
	case reflect.Map:
		return obj{"type": []string{"object", "null"}, "additionalProperties": within(t, t.Elem(), seen)}
	case reflect.Struct:
		seen[t] = true
		defer delete(seen, t)
		return structSchema(t, seen)
	}
	return obj{}
}

// within is the schema of elem inside t, with t marked as being described.
func within(t, elem reflect.Type, seen map[reflect.Type]bool) obj {
	seen[t] = true
	defer delete(seen, t)
	return schemaOf(elem, seen)
}

// structSchema describes t's fields as encoding/json writes them: exported ones, named by
// their json tag, "-" left out, embedded structs' fields promoted.
func structSchema(t reflect.Type, seen map[reflect.Type]bool) obj {
	props, required := obj{}, []string{}
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous && embedsStruct(f.Type) && f.Tag.Get("json") == "" {
			continue // its fields are visible on their own
		}
		if !f.IsExported() || len(f.Index) > 1 && !promoted(t, f) {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		s := schemaOf(f.Type, seen)
		if strings.Contains(","+opts+",", ",string,") {
			s = obj{"type": "string"}
		}
		props[name] = s
		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			required = append(required, name)
		}
	}
	return obj{"type": "object", "properties": props, "required": required}
}

func embedsStruct(t reflect.Type) bool {
	return t.Kind() == reflect.Struct || t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct
}

// promoted reports whether f, a field of an embedded struct, reaches t's JSON: every struct
// on its way is embedded without a json name.
func promoted(t reflect.Type, f reflect.StructField) bool {
	for i := range f.Index[:len(f.Index)-1] {
		sf := t.FieldByIndex(f.Index[:i+1])
		if !sf.Anonymous || sf.Tag.Get("json") != "" {
			return false
		}
	}
	return true
}
