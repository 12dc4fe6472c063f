package selftest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// refused is a validation_failed answer naming fields.
func refused(fields ...string) map[string]any {
	errs := []any{}
	for _, f := range fields {
		errs = append(errs, map[string]any{"field": f, "code": "type"})
	}
	return map[string]any{"error": "validation_failed", "errors": errs}
}

func TestImpliedFieldChecks(t *testing.T) {
	t.Parallel()
	first := &Case{Request: Request{Body: map[string]any{"name": "Test Product", "price": 29.99}}}
	widget := map[string]any{"name": "Bad Widget", "price": "cheap"}
	tests := []struct {
		name  string
		body  map[string]any
		exp   Expected
		reply map[string]any
		want  []string // the fields reported as not refused
	}{
		{name: "EveryChangedFieldRefused", body: map[string]any{"name": "", "price": -10}, reply: refused("name", "price")},
		{name: "SeedCase2WithoutMinOnPrice", body: map[string]any{"name": "", "price": -10},
			exp: Expected{ResponseContains: []any{map[string]any{"error": "validation_failed"}}}, reply: refused("name"), want: []string{"price"}},
		{name: "NameIdentifiesTheRecordInASentence", body: widget,
			exp: Expected{DatabaseCheck: []any{`Product with name "Bad Widget" does not exist`}}, reply: refused("price")},
		{name: "NameIdentifiesTheRecordInAStructuredCheck", body: widget,
			exp:   Expected{DatabaseCheck: []any{map[string]any{"resource": "products", "where": map[string]any{"name": "Bad Widget"}, "exists": false}}},
			reply: refused("price")},
		{name: "NameIdentifiesTheRecordInResponseContains", body: widget,
			exp: Expected{ResponseContains: []any{map[string]any{"name": "Bad Widget"}}}, reply: refused("price")},
		{name: "ACheckOnAnotherValueIdentifiesNothing", body: widget,
			exp: Expected{DatabaseCheck: []any{`Product with name "Other" does not exist`}}, reply: refused("price"), want: []string{"name"}},
		{name: "ACheckOnAnotherFieldIdentifiesNothing", body: widget,
			exp: Expected{DatabaseCheck: []any{`Product with sku "Bad Widget" does not exist`}}, reply: refused("price"), want: []string{"name"}},
		{name: "TheIdentifyingFieldDoesNotExcuseTheOthers", body: map[string]any{"name": "Bad Widget", "price": -1},
			exp: Expected{DatabaseCheck: []any{`Product with name "Bad Widget" does not exist`}}, reply: refused(), want: []string{"price"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Case{Request: Request{Body: tt.body}, Expected: tt.exp}
			failures := impliedFieldChecks(first, c, tt.reply, func(v any) any { return v })
			var fields []string
			for _, f := range failures {
				for _, name := range []string{"name", "price"} {
					if len(f) > len(name) && f[:len(name)+1] == name+" " {
						fields = append(fields, name)
					}
				}
			}
			require.Equal(t, tt.want, fields, failures)
		})
	}
}
