package selftest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

type fakeCreds struct{ Env }

func (fakeCreds) Token(context.Context, string) (string, error) { return "tok", nil }

func (fakeCreds) RandomValue(_ context.Context, field string) (string, error) {
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

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"{valid_token}", "${HOST}", "{random:a.b}", "{1_create.response.a.b.0}", "{{unique}}", "{", "${", "{unique}{unique}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x := &expander{ctx: context.Background(), env: fakeCreds{}, role: "r", unique: "u",
			captures: map[string]any{"1_create": map[string]any{"a": map[string]any{"b": []any{1}}}},
			lookup:   func(string) (string, bool) { return "", false }}
		_, _ = x.expandString(s)
	})
}
