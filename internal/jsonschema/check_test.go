package jsonschema

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckFindsUnknownKeywordsBeforeAnyValue(t *testing.T) {
	t.Parallel()
	v := newValidator(t, Config{})
	require.NoError(t, v.Check(decodeJSON(t, root).(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any)["Note"], "#/n"))
	err := v.Check(decodeJSON(t, `{"items": {"anyOf": [{"type": "string"}, {"propertyNames": {}}]}}`), "#/s")
	require.EqualError(t, err, `schema #/s/items/anyOf/1/propertyNames: unknown keyword "propertyNames": the response check does not know it (teach internal/jsonschema)`)
	require.ErrorContains(t, v.Check(decodeJSON(t, `{"$ref": "#/components/schemas/Nope"}`), "#/s"), `no "Nope"`)
	require.ErrorContains(t, v.Check(decodeJSON(t, `{"type": ["string", 1]}`), "#/s"), "type must be")
	for _, k := range []string{"$ref", "type", "enum", "const", "properties", "additionalProperties", "required", "items",
		"minItems", "maxItems", "uniqueItems", "anyOf", "oneOf", "allOf", "minimum", "maximum", "exclusiveMinimum",
		"exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format"} {
		require.True(t, isAssertion(k), k)
		require.True(t, (&run{v: v}).keyword(map[string]any{k: nil}, k, "#", nil, ""), "Validate applies %s", k)
	}
}
