package selftest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type fakeCreds struct{ Env }

func (fakeCreds) Token(context.Context, string) (string, error) { return "tok", nil }

func (fakeCreds) RandomValue(_ context.Context, field string) (any, error) {
	return "rnd-" + field, nil
}

func TestExpand(t *testing.T) {
	t.Parallel()
	x := &expander{ctx: context.Background(), env: fakeCreds{}, role: "admin", unique: "u1",
		captures: map[string]any{"1_create": map[string]any{"id": "abc", "tags": []any{"t0"}}},
		lookup:   func(k string) (string, bool) { return map[string]string{"HOST": "h"}[k], k == "HOST" }}
	v, err := x.expand(map[string]any{"a": "Bearer {valid_token}", "b": []any{"{1_create.response.id}-{unique}", "${HOST}"},
		"c": "{1_create.response.tags.0}", "n": 5, "r": "{random:people.nickname}"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"a": "Bearer tok", "b": []any{"abc-u1", "h"}, "c": "t0", "n": 5, "r": "rnd-people.nickname"}, v)
	for in, msg := range map[string]string{"{nope}": "unknown placeholder", "{2_x.response.id}": "no earlier case",
		"{1_create.response.missing}": "has no missing", "${MISSING}": "not set"} {
		_, err := x.expandString(in)
		require.ErrorContains(t, err, msg, in)
	}
}

// FuzzExpand: text without placeholders comes back as it is; known placeholders put into any
// such text are replaced by their values and nothing else changes; anything else is refused
// with an error that names what it could not fill, never a half-filled text.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"{valid_token}", "${HOST}", "{random:a.b}", "{1_create.response.a.b.0}", "{{unique}}", "{", "${", "{unique}{unique}"} {
		f.Add(s, "a", "b")
	}
	f.Fuzz(func(t *testing.T, s, prefix, suffix string) {
		x := &expander{ctx: context.Background(), env: fakeCreds{}, role: "r", unique: "u",
			captures: map[string]any{"1_create": map[string]any{"a": map[string]any{"b": []any{1}}}},
			lookup:   func(k string) (string, bool) { return "h", k == "HOST" }}
		plain := func(s string) string { return strings.NewReplacer("{", "", "}", "", "$", "").Replace(s) }
		prefix, suffix = plain(prefix), plain(suffix)
		if got, err := x.expandString(prefix + suffix); err != nil || got != prefix+suffix {
			t.Fatalf("%q: plain text came back as %q (%v)", prefix+suffix, got, err)
		}
		in := prefix + "{valid_token}" + suffix + "{unique}${HOST}{1_create.response.a.b.0}" + prefix
		if got, err := x.expandString(in); err != nil || got != prefix+"tok"+suffix+"uh1"+prefix {
			t.Fatalf("%q expanded to %q (%v)", in, got, err)
		}
		out, err := x.expandString(s)
		if err != nil {
			if !strings.Contains(err.Error(), "{") && !strings.Contains(err.Error(), "environment variable") {
				t.Fatalf("%q: the error names no placeholder: %v", s, err)
			}
			return
		}
		if !strings.Contains(s, "{") && out != s {
			t.Fatalf("%q without placeholders came back as %q", s, out)
		}
		str, isText := out.(string)
		if !isText {
			if m := placeholderRe.FindStringSubmatch(s); m == nil || m[0] != s || !strings.Contains(s, ".response.") {
				t.Fatalf("%q: only a whole captured value keeps its JSON type, got %T", s, out)
			}
			return
		}
		if placeholderRe.MatchString(str) && !placeholderRe.MatchString(s) {
			t.Fatalf("%q: expanding made a placeholder: %q", s, str)
		}
	})
}

// A value that is exactly one captured placeholder keeps its JSON type; inside text it is text.
func TestWholeCaptureKeepsItsType(t *testing.T) {
	x := &expander{ctx: context.Background(), env: fakeCreds{}, role: "r", unique: "u",
		captures: map[string]any{"a": map[string]any{"position": json.Number("2"), "ok": true, "name": "n"}}}
	for in, want := range map[string]any{
		"{a.response.position}":                      json.Number("2"),
		"{a.response.ok}":                            true,
		"{a.response.name}":                          "n",
		"#{a.response.position}":                     "#2",
		"{a.response.position}{a.response.position}": "22",
	} {
		got, err := x.expandString(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}
