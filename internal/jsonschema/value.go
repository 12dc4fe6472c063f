package jsonschema

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
)

// rat reads a JSON number exactly; ok is false for anything else.
func rat(v any) (*big.Rat, bool) {
	var text string
	switch n := v.(type) {
	case json.Number:
		text = string(n)
	case float64:
		text = strconv.FormatFloat(n, 'g', -1, 64)
	case int:
		text = strconv.Itoa(n)
	default:
		return nil, false
	}
	if !exponentInRange(text) {
		return nil, false
	}
	x, ok := new(big.Rat).SetString(text)
	return x, ok
}

// maxExponent bounds the numbers judged exactly: 1e999999999 would take gigabytes as a
// fraction. Such a number fails every check (see kindOf) rather than passing one.
const maxExponent = 10000

func exponentInRange(text string) bool {
	i := strings.IndexAny(text, "eE")
	if i < 0 {
		return true
	}
	exp, err := strconv.Atoi(strings.TrimPrefix(text[i+1:], "+"))
	return err == nil && exp >= -maxExponent && exp <= maxExponent
}

// isNumber reports JSON numbers, however they were decoded.
func isNumber(v any) bool {
	_, ok := rat(v)
	return ok
}

// hasType reports whether val is of the JSON Schema type t; an integer is any number
// without a fractional part (3.0 is one, as 2020-12 says).
func hasType(val any, t string) bool {
	switch t {
	case "integer":
		x, ok := rat(val)
		return ok && x.IsInt()
	case "number":
		return isNumber(val)
	}
	return kindOf(val) == t
}

// kindOf names val's JSON type.
func kindOf(val any) string {
	switch val.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if !isNumber(val) {
			return "a number beyond 1e±10000"
		}
	}
	if isNumber(val) {
		return "number"
	}
	return "unknown"
}

// describe names val's type, with the value for numbers (an integer is wanted, 3.5 came).
func describe(val any) string {
	if isNumber(val) {
		return "number " + short(val)
	}
	return kindOf(val)
}

// short renders val as JSON, cut to a readable length.
func short(val any) string {
	b, err := json.Marshal(val)
	if err != nil {
		return kindOf(val)
	}
	if len(b) > 60 {
		return string(b[:57]) + "…"
	}
	return string(b)
}

// equal is JSON equality: numbers by value (1 equals 1.0), objects by their members.
func equal(a, b any) bool {
	if x, ok := rat(a); ok {
		y, ok := rat(b)
		return ok && x.Cmp(y) == 0
	}
	switch a := a.(type) {
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !equal(a[i], bl[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			if w, has := bm[k]; !has || !equal(v, w) {
				return false
			}
		}
		return true
	}
	return kindOf(a) == kindOf(b) && a == b
}

// count reads a non-negative integer keyword value (minLength: 3).
func count(kv any) (int, bool) {
	x, ok := rat(kv)
	if !ok || !x.IsInt() || x.Sign() < 0 || !x.Num().IsInt64() {
		return 0, false
	}
	return int(x.Num().Int64()), true
}

func itoa(i int) string { return strconv.Itoa(i) }

// number applies minimum, maximum, their exclusive forms and multipleOf, exactly.
func (r *run) number(k string, kv any, at string, val any, ptr string) {
	limit, ok := rat(kv)
	if !ok {
		r.schemaError(at, "%s must be a number, got %s", k, short(kv))
		return
	}
	x, isNum := rat(val)
	if !isNum {
		return
	}
	c := x.Cmp(limit)
	switch k {
	case "minimum":
		r.check(c >= 0, ptr, at, "want at least %s, got %s", kv, val)
	case "maximum":
		r.check(c <= 0, ptr, at, "want at most %s, got %s", kv, val)
	case "exclusiveMinimum":
		r.check(c > 0, ptr, at, "want more than %s, got %s", kv, val)
	case "exclusiveMaximum":
		r.check(c < 0, ptr, at, "want less than %s, got %s", kv, val)
	case "multipleOf":
		if limit.Sign() <= 0 {
			r.schemaError(at, "multipleOf must be greater than 0")
			return
		}
		r.check(new(big.Rat).Quo(x, limit).IsInt(), ptr, at, "want a multiple of %s, got %s", kv, val)
	}
}

func (r *run) check(ok bool, ptr, at, format string, want, got any) {
	if !ok {
		r.fail(ptr, at, format, short(want), short(got))
	}
}
