package strictjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestDecodeAcceptsWhatEncodingJSONReads(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0.5e+10`, `12.50`, `"x"`,
		` {"a": [1, 2.0, {"b": null}], "c": "d\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "e": true} `,
		`{"émoji": "😀", "k": "\ufffd"}`,
	} {
		got, err := Decode([]byte(src))
		require.NoError(t, err, src)
		require.Equal(t, reference(t, src), got, src)
	}
}

func TestDecodeRefusesWhatEncodingJSONRepairs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, code, path string
	}{
		{name: "NULEscape", src: `{"name": "a\u0000b"}`, code: CodeNUL, path: "name"},
		{name: "NULInKey", src: `{"a\u0000": 1}`, code: CodeNUL},
		{name: "RawNUL", src: "{\"name\": \"a\x00\"}", code: CodeNUL, path: "name"},
		{name: "InvalidUTF8", src: "{\"name\": \"a\xff\"}", code: CodeInvalidUTF8, path: "name"},
		{name: "InvalidUTF8AfterEscape", src: "{\"name\": \"\\n\xc3\"}", code: CodeInvalidUTF8, path: "name"},
		{name: "EncodedSurrogate", src: "{\"name\": \"\xed\xa0\x80\"}", code: CodeInvalidUTF8, path: "name"},
		{name: "LoneHighSurrogate", src: `{"name": "\ud800"}`, code: CodeLoneSurrogate, path: "name"},
		{name: "HighThenLetter", src: `{"name": "\ud800\u0041"}`, code: CodeLoneSurrogate, path: "name"},
		{name: "LoneLowSurrogate", src: `{"items": [{"q": "\udc00"}]}`, code: CodeLoneSurrogate, path: "items[0].q"},
		{name: "TwoHighSurrogates", src: `["\ud800\ud800"]`, code: CodeLoneSurrogate, path: "[0]"},
		{name: "DuplicateKey", src: `{"price": 1, "price": -5}`, code: CodeDuplicateKey, path: "price"},
		{name: "NestedDuplicateKey", src: `{"a": {"b": 1, "b": 2}}`, code: CodeDuplicateKey, path: "a.b"},
		{name: "TooDeep", src: strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), code: CodeTooDeep,
			path: strings.Repeat("[0]", MaxDepth)},
		{name: "TrailingData", src: `{} {}`, code: CodeSyntax},
		{name: "Empty", src: `   `, code: CodeSyntax},
		{name: "LeadingZero", src: `01`, code: CodeSyntax},
		{name: "BadEscape", src: `"\x41"`, code: CodeSyntax},
		{name: "RawNewline", src: "\"a\nb\"", code: CodeSyntax},
		{name: "TrailingComma", src: `{"a": 1,}`, code: CodeSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.src))
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.code, e.Code, e.Error())
			require.Equal(t, tt.path, e.Path)
		})
	}
}

// reference decodes src with encoding/json the way Kiln did before (numbers as json.Number).
func reference(t testing.TB, src string) any {
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

// FuzzDecode holds Decode to encoding/json: whatever encoding/json refuses is refused, and
// whatever Decode accepts decodes to the same value. Decode may refuse more, but only for
// the reasons it exists for (NUL, bad UTF-8, lone surrogates, duplicate keys, depth).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":"\u0000"}`, `{"a":1,"a":2}`, `"\ud800"`, "\"\xff\"",
		`[1,[2,[3]]]`, `{"k":"\ud83d\ude00"}`, `-1.5E-3`, `{"a":{"b":[true,false,null]}}`, `"\/"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode(b)
		valid := json.Valid(b)
		if err != nil {
			var e *Error
			if !errorAs(err, &e) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if valid && e.Code == CodeSyntax {
				t.Fatalf("encoding/json accepts %q but Decode calls it a syntax error: %v", b, err)
			}
			return
		}
		if !valid {
			t.Fatalf("Decode accepts %q, encoding/json does not", b)
		}
		if want := reference(t, string(b)); !equal(got, want) {
			t.Fatalf("Decode(%q) = %#v, encoding/json = %#v", b, got, want)
		}
		if !utf8.Valid(b) {
			t.Fatalf("Decode accepted invalid UTF-8 %q", b)
		}
	})
}

func errorAs(err error, target **Error) bool {
	e, ok := err.(*Error)
	*target = e
	return ok
}

func equal(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
