package jsonschema

import (
	"strings"
)

// isAnnotation reports keywords that describe a value without constraining it. OpenAPI's
// extensions (x-…) are annotations by definition.
func isAnnotation(k string) bool {
	switch k {
	case "description", "title", "example", "examples", "default", "readOnly", "writeOnly",
		"deprecated", "$comment":
		return true
	}
	return strings.HasPrefix(k, "x-")
}

// keyword applies one keyword of s to val; false when the keyword is unknown.
func (r *run) keyword(s map[string]any, k, loc string, val any, ptr string) bool {
	kv, at := s[k], loc+"/"+escape(k)
	switch k {
	case "$ref":
		r.ref(kv, at, val, ptr)
	case "type":
		r.typ(kv, at, val, ptr)
	case "enum":
		r.enum(kv, at, val, ptr)
	case "const":
		if !equal(kv, val) {
			r.fail(ptr, at, "want %s, got %s", short(kv), short(val))
		}
	case "properties", "additionalProperties", "required":
		r.object(s, k, at, val, ptr)
	case "items", "minItems", "maxItems", "uniqueItems":
		r.array(k, kv, at, val, ptr)
	case "anyOf", "oneOf", "allOf":
		r.combine(k, kv, at, val, ptr)
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf":
		r.number(k, kv, at, val, ptr)
	case "minLength", "maxLength", "pattern", "format":
		r.str(k, kv, at, val, ptr)
	default:
		return isAnnotation(k)
	}
	return true
}

// ref follows a $ref. The same reference reached again for the same value, without reading
// any of it, would never end: that is a schema error, not a loop.
func (r *run) ref(kv any, at string, val any, ptr string) {
	target, ok := kv.(string)
	if !ok {
		r.schemaError(at, "$ref must be a string, got %s", kindOf(kv))
		return
	}
	key := target + "\x00" + ptr
	if r.active[key] {
		r.schemaError(at, "$ref %s refers back to itself without reading the value", target)
		return
	}
	sub, err := r.v.Resolve(target)
	if err != nil {
		r.schemaError(at, "%v", err)
		return
	}
	r.active[key] = true
	defer delete(r.active, key)
	r.schema(sub, target, val, ptr)
}

func (r *run) typ(kv any, at string, val any, ptr string) {
	names, ok := typeNames(kv)
	if !ok {
		r.schemaError(at, "type must be a type name or a list of them, got %s", short(kv))
		return
	}
	for _, t := range names {
		if hasType(val, t) {
			return
		}
	}
	r.fail(ptr, at, "want %s, got %s", strings.Join(names, " or "), describe(val))
}

func typeNames(kv any) ([]string, bool) {
	switch t := kv.(type) {
	case string:
		return []string{t}, knownType(t)
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok || !knownType(s) {
				return nil, false
			}
			out = append(out, s)
		}
		return out, len(out) > 0
	}
	return nil, false
}

func knownType(t string) bool {
	switch t {
	case "null", "boolean", "object", "array", "number", "integer", "string":
		return true
	}
	return false
}

func (r *run) enum(kv any, at string, val any, ptr string) {
	list, ok := kv.([]any)
	if !ok {
		r.schemaError(at, "enum must be a list, got %s", kindOf(kv))
		return
	}
	for _, e := range list {
		if equal(e, val) {
			return
		}
	}
	r.fail(ptr, at, "want one of %s, got %s", short(kv), short(val))
}

// combine applies anyOf, oneOf and allOf.
func (r *run) combine(k string, kv any, at string, val any, ptr string) {
	list, ok := kv.([]any)
	if !ok || len(list) == 0 {
		r.schemaError(at, "%s must be a non-empty list of schemas", k)
		return
	}
	if k == "allOf" {
		for i, sub := range list {
			r.schema(sub, at+"/"+itoa(i), val, ptr)
		}
		return
	}
	var passed int
	var why []string
	for i, sub := range list {
		failed, probs := r.failed(sub, at+"/"+itoa(i), val, ptr)
		if r.fatal != nil {
			return
		}
		if !failed {
			passed++
			continue
		}
		why = append(why, "["+itoa(i)+"] "+probs[0].String())
	}
	switch {
	case passed == 0:
		r.fail(ptr, at, "matches none of %s: %s", k, strings.Join(why, "; "))
	case k == "oneOf" && passed > 1:
		r.fail(ptr, at, "matches %d of oneOf, want exactly 1", passed)
	}
}
