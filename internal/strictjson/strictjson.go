// Package strictjson decodes untrusted JSON text strictly: it refuses what encoding/json
// silently repairs or ignores — invalid UTF-8, lone UTF-16 surrogates (both stored as U+FFFD
// by encoding/json), duplicate object keys (the last one silently wins there) — and NUL
// characters, which PostgreSQL cannot store in text. Every refusal names the JSON path and a
// stable code, so a client learns exactly what to fix.
package strictjson

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Codes of the problems Decode reports (Error.Code).
const (
	CodeSyntax        = "syntax"         // not JSON
	CodeInvalidUTF8   = "invalid_utf8"   // bytes that are not UTF-8
	CodeLoneSurrogate = "lone_surrogate" // a \uD800-\uDFFF escape without its pair
	CodeNUL           = "nul_character"  // U+0000 in a string or key
	CodeDuplicateKey  = "duplicate_key"  // the same key twice in one object
	CodeTooDeep       = "too_deep"       // nesting beyond MaxDepth
)

// MaxDepth bounds how deeply objects and arrays may nest.
const MaxDepth = 64

// Error is one problem with a JSON text: where (byte offset and JSON path) and what.
type Error struct {
	Offset int
	Path   string // e.g. items[1].name; "" for the document itself
	Code   string
	Msg    string
}

func (e *Error) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s (at %s, byte %d)", e.Msg, e.Path, e.Offset)
	}
	return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset)
}

// Decode parses one JSON value that fills b (surrounding whitespace allowed). Objects become
// map[string]any, arrays []any, numbers json.Number (exact text), strings string.
func Decode(b []byte) (any, error) {
	d := decoder{b: b}
	d.space()
	if d.i >= len(b) {
		return nil, d.fail(CodeSyntax, "the text is empty")
	}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i < len(b) {
		return nil, d.fail(CodeSyntax, "data after the JSON value")
	}
	return v, nil
}

type decoder struct {
	b    []byte
	i    int
	path []string // path segments to the value being read
}

func (d *decoder) fail(code, format string, args ...any) *Error {
	return &Error{Offset: d.i, Path: strings.Join(d.path, ""), Code: code, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if d.i >= len(d.b) {
		return nil, d.fail(CodeSyntax, "unexpected end of JSON")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.fail(CodeSyntax, "unexpected character %q", rune(d.b[d.i]))
}

func (d *decoder) literal(word string) error {
	if !strings.HasPrefix(string(d.b[d.i:min(len(d.b), d.i+len(word))]), word) {
		return d.fail(CodeSyntax, "invalid literal (expected %s)", word)
	}
	d.i += len(word)
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, d.fail(CodeTooDeep, "the JSON nests deeper than %d levels", MaxDepth)
	}
	d.i++ // {
	out := map[string]any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return out, nil
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.fail(CodeSyntax, "expected a quoted object key")
		}
		start := d.i
		key, err := d.str()
		if err != nil {
			return nil, err
		}
		d.path = append(d.path, segment(len(d.path), key))
		if _, dup := out[key]; dup {
			d.i = start
			return nil, d.fail(CodeDuplicateKey, "the key %q appears twice in one object", key)
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.fail(CodeSyntax, "expected : after an object key")
		}
		d.i++
		d.space()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		out[key] = v
		d.path = d.path[:len(d.path)-1]
		if done, err := d.next('}'); done || err != nil {
			return out, err
		}
	}
}

// next reads the , or closing bracket after a member; done reports the closing bracket.
func (d *decoder) next(closing byte) (bool, error) {
	d.space()
	if d.i >= len(d.b) {
		return false, d.fail(CodeSyntax, "unexpected end of JSON")
	}
	switch d.b[d.i] {
	case ',':
		d.i++
		return false, nil
	case closing:
		d.i++
		return true, nil
	}
	return false, d.fail(CodeSyntax, "expected , or %c", closing)
}

func segment(n int, key string) string {
	if n == 0 {
		return key
	}
	return "." + key
}

func (d *decoder) array(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, d.fail(CodeTooDeep, "the JSON nests deeper than %d levels", MaxDepth)
	}
	d.i++ // [
	out := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return out, nil
	}
	for n := 0; ; n++ {
		d.path = append(d.path, "["+strconv.Itoa(n)+"]")
		d.space()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		d.path = d.path[:len(d.path)-1]
		if done, err := d.next(']'); done || err != nil {
			return out, err
		}
	}
}

func (d *decoder) number() (any, error) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		d.digits()
	default:
		return nil, d.fail(CodeSyntax, "invalid number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, d.fail(CodeSyntax, "invalid number: digits must follow the point")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, d.fail(CodeSyntax, "invalid number: digits must follow the exponent")
		}
	}
	return json.Number(d.b[start:d.i]), nil
}

func (d *decoder) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}
