package jsonschema

import (
	"maps"
	"slices"
	"unicode/utf8"
)

// object applies properties, additionalProperties and required; each only to objects.
func (r *run) object(s map[string]any, k, at string, val any, ptr string) {
	obj, isObj := val.(map[string]any)
	switch k {
	case "properties":
		props, ok := s[k].(map[string]any)
		if !ok {
			r.schemaError(at, "properties must be an object")
			return
		}
		for _, name := range sortedKeys(props) {
			if v, has := obj[name]; has && isObj {
				r.schema(props[name], at+"/"+escape(name), v, ptr+"/"+escape(name))
			}
		}
	case "additionalProperties":
		props, _ := s["properties"].(map[string]any)
		for _, name := range sortedKeys(obj) {
			if _, declared := props[name]; declared {
				continue
			}
			if s[k] == false {
				r.fail(ptr+"/"+escape(name), at, "property %q is not allowed (additionalProperties: false)", name)
				continue
			}
			r.schema(s[k], at, obj[name], ptr+"/"+escape(name))
		}
	case "required":
		r.required(s[k], at, obj, isObj, ptr)
	}
}

func (r *run) required(kv any, at string, obj map[string]any, isObj bool, ptr string) {
	list, ok := kv.([]any)
	if !ok {
		r.schemaError(at, "required must be a list of names")
		return
	}
	for _, e := range list {
		name, ok := e.(string)
		if !ok {
			r.schemaError(at, "required must be a list of names")
			return
		}
		if _, has := obj[name]; isObj && !has {
			r.fail(ptr, at, "missing required property %q", name)
		}
	}
}

// array applies items, minItems, maxItems and uniqueItems; each only to arrays.
func (r *run) array(k string, kv any, at string, val any, ptr string) {
	list, isArr := val.([]any)
	if k == "items" {
		for i, e := range list {
			r.schema(kv, at, e, ptr+"/"+itoa(i))
		}
		return
	}
	if k == "uniqueItems" {
		r.unique(kv, at, list, ptr)
		return
	}
	n, ok := count(kv)
	if !ok {
		r.schemaError(at, "%s must be a non-negative integer, got %s", k, short(kv))
		return
	}
	switch {
	case !isArr:
	case k == "minItems" && len(list) < n:
		r.fail(ptr, at, "want at least %d items, got %d", n, len(list))
	case k == "maxItems" && len(list) > n:
		r.fail(ptr, at, "want at most %d items, got %d", n, len(list))
	}
}

func (r *run) unique(kv any, at string, list []any, ptr string) {
	want, ok := kv.(bool)
	if !ok {
		r.schemaError(at, "uniqueItems must be a boolean")
		return
	}
	if !want {
		return
	}
	for i := range list {
		for j := i + 1; j < len(list); j++ {
			if equal(list[i], list[j]) {
				r.fail(ptr, at, "items %d and %d are equal, want unique items", i, j)
				return
			}
		}
	}
}

// str applies minLength and maxLength (in Unicode code points), pattern and format.
func (r *run) str(k string, kv any, at string, val any, ptr string) {
	if k == "format" {
		r.format(kv, at, val, ptr)
		return
	}
	if k == "pattern" {
		r.pattern(kv, at, val, ptr)
		return
	}
	n, ok := count(kv)
	if !ok {
		r.schemaError(at, "%s must be a non-negative integer, got %s", k, short(kv))
		return
	}
	s, isStr := val.(string)
	got := utf8.RuneCountInString(s)
	switch {
	case !isStr:
	case k == "minLength" && got < n:
		r.fail(ptr, at, "want at least %d characters, got %d", n, got)
	case k == "maxLength" && got > n:
		r.fail(ptr, at, "want at most %d characters, got %d", n, got)
	}
}

// pattern applies a pattern keyword, unanchored as in JSON Schema. Kiln's spec patterns are
// Go (RE2) expressions, checked by the server with the same engine.
func (r *run) pattern(kv any, at string, val any, ptr string) {
	expr, ok := kv.(string)
	if !ok {
		r.schemaError(at, "pattern must be a string")
		return
	}
	re, err := r.v.pattern(expr)
	if err != nil {
		r.schemaError(at, "pattern %q: %v", expr, err)
		return
	}
	if s, isStr := val.(string); isStr && !re.MatchString(s) {
		r.fail(ptr, at, "%s does not match pattern %q", short(s), expr)
	}
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
