package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func decodeJSON(t *testing.T, text string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v), text)
	return v
}

// root holds schemas that refer to each other through relations, as Kiln's do.
const root = `{"components": {"schemas": {
  "Folder": {"type": "object", "required": ["id"], "properties": {
    "id": {"type": "string", "format": "uuid"},
    "notes": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}}}},
  "Note": {"type": "object", "required": ["title"], "properties": {
    "title": {"type": "string"},
    "folder": {"anyOf": [{"type": "string", "format": "uuid"}, {"$ref": "#/components/schemas/Folder"}, {"type": "null"}]}}},
  "Loop": {"$ref": "#/components/schemas/Loop"},
  "a/b": {"type": "integer"}
}}}`

func newValidator(t *testing.T, cfg Config) *Validator {
	t.Helper()
	v, err := New(cfg, decodeJSON(t, root))
	require.NoError(t, err)
	return v
}

const uuid = `"0192f0a0-0000-7000-8000-000000000000"`

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, schema, value string
		want                string // "" passes; otherwise a substring of the error
	}{
		{name: "TypeString", schema: `{"type": "string"}`, value: `"x"`},
		{name: "TypeStringRefusesNumber", schema: `{"type": "string"}`, value: `1`, want: "(root): want string, got number 1"},
		{name: "IntegerAcceptsThreePointZero", schema: `{"type": "integer"}`, value: `3.0`},
		{name: "IntegerRefusesThreePointFive", schema: `{"type": "integer"}`, value: `3.5`, want: "want integer, got number 3.5"},
		{name: "IntegerBeyondFloatPrecision", schema: `{"type": "integer"}`, value: `123456789012345678901234567890`},
		{name: "HugeExponentFails", schema: `{"type": "number"}`, value: `1e999999999`, want: "want number, got a number beyond 1e±10000"},
		{name: "LargeExponentIsExact", schema: `{"type": "integer", "minimum": 1e300}`, value: `1.5e301`},
		{name: "IntegerWithExponent", schema: `{"type": "integer"}`, value: `1e2`},
		{name: "NumberAcceptsInteger", schema: `{"type": "number"}`, value: `3`},
		{name: "NumberRefusesString", schema: `{"type": "number"}`, value: `"3"`, want: "want number, got string"},
		{name: "NullableAcceptsNull", schema: `{"type": ["string", "null"]}`, value: `null`},
		{name: "NullableAcceptsString", schema: `{"type": ["string", "null"]}`, value: `"x"`},
		{name: "NullableRefusesBoolean", schema: `{"type": ["string", "null"]}`, value: `true`, want: "want string or null, got boolean"},
		{name: "NotNullableRefusesNull", schema: `{"type": "string"}`, value: `null`, want: "want string, got null"},
		{name: "Boolean", schema: `{"type": "boolean"}`, value: `false`},
		{name: "ArrayRefusesObject", schema: `{"type": "array"}`, value: `{}`, want: "want array, got object"},
		{name: "ObjectRefusesArray", schema: `{"type": "object"}`, value: `[]`, want: "want object, got array"},
		{name: "EnumAccepts", schema: `{"enum": ["a", "b"]}`, value: `"b"`},
		{name: "EnumRefuses", schema: `{"enum": ["a", "b"]}`, value: `"c"`, want: `want one of ["a","b"], got "c"`},
		{name: "EnumNumbersByValue", schema: `{"enum": [1, 2]}`, value: `2.0`},
		{name: "ConstAccepts", schema: `{"const": {"a": [1]}}`, value: `{"a": [1.0]}`},
		{name: "ConstRefuses", schema: `{"const": "Bearer"}`, value: `"Basic"`, want: `want "Bearer", got "Basic"`},
		{name: "RequiredPresent", schema: `{"required": ["a"]}`, value: `{"a": null}`},
		{name: "RequiredMissing", schema: `{"required": ["a", "b"]}`, value: `{"a": 1}`, want: `(root): missing required property "b"`},
		{name: "RequiredIgnoresNonObjects", schema: `{"required": ["a"]}`, value: `"x"`},
		{name: "PropertiesApply", schema: `{"properties": {"p": {"type": "number"}}}`, value: `{"p": "1"}`, want: "/p: want number, got string (at #/x/properties/p/type)"},
		{name: "PropertiesAbsentIsFine", schema: `{"properties": {"p": {"type": "number"}}}`, value: `{}`},
		{name: "AdditionalFalseRefusesExtra", schema: `{"properties": {"a": {}}, "additionalProperties": false}`, value: `{"a": 1, "b": 2}`, want: `/b: property "b" is not allowed (additionalProperties: false)`},
		{name: "AdditionalFalseAcceptsDeclared", schema: `{"properties": {"a": {}}, "additionalProperties": false}`, value: `{"a": 1}`},
		{name: "AdditionalSchema", schema: `{"additionalProperties": {"type": "string"}}`, value: `{"64x64": 5}`, want: "/64x64: want string, got number 5"},
		{name: "AdditionalTrue", schema: `{"additionalProperties": true}`, value: `{"x": 5}`},
		{name: "PointerEscapes", schema: `{"properties": {"a/b~c": {"type": "string"}}}`, value: `{"a/b~c": 1}`, want: "/a~1b~0c: want string"},
		{name: "ItemsApply", schema: `{"items": {"type": "integer"}}`, value: `[1, 2, "x"]`, want: "/2: want integer, got string"},
		{name: "ItemsAccept", schema: `{"items": {"type": "integer"}}`, value: `[1, 2.0]`},
		{name: "MinItemsAccepts", schema: `{"minItems": 1}`, value: `[1]`},
		{name: "ArrayKeywordsIgnoreObjects", schema: `{"items": false, "minItems": 1}`, value: `{}`},
		{name: "MinItems", schema: `{"minItems": 2}`, value: `[1]`, want: "want at least 2 items, got 1"},
		{name: "MaxItems", schema: `{"maxItems": 1}`, value: `[1, 2]`, want: "want at most 1 items, got 2"},
		{name: "MaxItemsAccepts", schema: `{"maxItems": 2}`, value: `[1, 2]`},
		{name: "UniqueItems", schema: `{"uniqueItems": true}`, value: `[1, 2, 1.0]`, want: "items 0 and 2 are equal"},
		{name: "UniqueItemsAccepts", schema: `{"uniqueItems": true}`, value: `[1, 2, "1"]`},
		{name: "Minimum", schema: `{"minimum": 0}`, value: `-0.01`, want: "want at least 0, got -0.01"},
		{name: "MinimumInclusive", schema: `{"minimum": 0}`, value: `0`},
		{name: "Maximum", schema: `{"maximum": 100}`, value: `100.5`, want: "want at most 100"},
		{name: "ExclusiveMinimum", schema: `{"exclusiveMinimum": 0}`, value: `0`, want: "want more than 0"},
		{name: "ExclusiveMaximum", schema: `{"exclusiveMaximum": 1}`, value: `0.999`},
		{name: "ExclusiveMaximumRefuses", schema: `{"exclusiveMaximum": 1}`, value: `1`, want: "want less than 1"},
		{name: "MultipleOfDecimal", schema: `{"multipleOf": 0.01}`, value: `19.99`},
		{name: "MultipleOfDecimalRefuses", schema: `{"multipleOf": 0.01}`, value: `19.999`, want: "want a multiple of 0.01"},
		{name: "NumberKeywordsIgnoreStrings", schema: `{"minimum": 5, "multipleOf": 2}`, value: `"x"`},
		{name: "MinLengthCodePoints", schema: `{"minLength": 3}`, value: `"héé"`},
		{name: "MinLengthRefuses", schema: `{"minLength": 3}`, value: `"hé"`, want: "want at least 3 characters, got 2"},
		{name: "MaxLengthCodePoints", schema: `{"maxLength": 2}`, value: `"éé"`},
		{name: "MaxLengthRefuses", schema: `{"maxLength": 2}`, value: `"abc"`, want: "want at most 2 characters, got 3"},
		{name: "Pattern", schema: `{"pattern": "^[a-z]+$"}`, value: `"abc"`},
		{name: "PatternRefuses", schema: `{"pattern": "^[a-z]+$"}`, value: `"ab1"`, want: `"ab1" does not match pattern`},
		{name: "PatternIsUnanchored", schema: `{"pattern": "b"}`, value: `"abc"`},
		{name: "FormatUUID", schema: `{"format": "uuid"}`, value: uuid},
		{name: "FormatUUIDRefuses", schema: `{"format": "uuid"}`, value: `"0192f0a0"`, want: "is not a valid uuid"},
		{name: "FormatDateTime", schema: `{"format": "date-time"}`, value: `"2026-12-03T19:00:00.123456Z"`},
		{name: "FormatDateTimeOffset", schema: `{"format": "date-time"}`, value: `"2026-12-03T19:00:00+01:00"`},
		{name: "FormatDateTimeRefuses", schema: `{"format": "date-time"}`, value: `"2026-12-03 19:00"`, want: "is not a valid date-time"},
		{name: "FormatDate", schema: `{"format": "date"}`, value: `"2026-02-28"`},
		{name: "FormatDateRefuses", schema: `{"format": "date"}`, value: `"2026-02-30"`, want: "is not a valid date"},
		{name: "FormatEmail", schema: `{"format": "email"}`, value: `"a.b+c@example.test"`},
		{name: "FormatEmailRefuses", schema: `{"format": "email"}`, value: `"not an email"`, want: "is not a valid email"},
		{name: "FormatURI", schema: `{"format": "uri"}`, value: `"https://checkout.stripe.com/c/pay"`},
		{name: "FormatURIRefusesRelative", schema: `{"format": "uri"}`, value: `"/files/x"`, want: "is not a valid uri"},
		{name: "FormatInt64", schema: `{"format": "int64"}`, value: `9223372036854775807`},
		{name: "FormatInt64Refuses", schema: `{"format": "int64"}`, value: `9223372036854775808`, want: "want a 64-bit integer"},
		{name: "FormatUnknownIsAnnotation", schema: `{"format": "binary"}`, value: `"anything"`},
		{name: "FormatIgnoresOtherTypes", schema: `{"format": "uuid"}`, value: `5`},
		{name: "AnyOfAccepts", schema: `{"anyOf": [{"type": "string"}, {"type": "null"}]}`, value: `null`},
		{name: "AnyOfRefuses", schema: `{"anyOf": [{"type": "string"}, {"type": "null"}]}`, value: `1`, want: "matches none of anyOf: [0] (root): want string, got number 1"},
		{name: "OneOfAccepts", schema: `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`, value: `1`},
		{name: "OneOfRefusesTwo", schema: `{"oneOf": [{"type": "number"}, {"type": "integer"}]}`, value: `1`, want: "matches 2 of oneOf"},
		{name: "OneOfRefusesNone", schema: `{"oneOf": [{"type": "string"}]}`, value: `1`, want: "matches none of oneOf"},
		{name: "AllOf", schema: `{"allOf": [{"type": "integer"}, {"minimum": 2}]}`, value: `1`, want: "want at least 2"},
		{name: "AllOfAccepts", schema: `{"allOf": [{"$ref": "#/components/schemas/a~1b"}]}`, value: `7`},
		{name: "FalseSchema", schema: `{"properties": {"a": false}}`, value: `{"a": 1}`, want: "/a: no value is allowed here"},
		{name: "Annotations", schema: `{"description": "d", "title": "t", "example": 1, "examples": [1], "default": 1, "readOnly": true, "writeOnly": false, "deprecated": true, "x-kiln-initial": ["new"]}`, value: `"anything"`},
		{name: "RefCycleThroughRelations", schema: `{"$ref": "#/components/schemas/Folder"}`,
			value: `{"id": ` + uuid + `, "notes": [{"title": "n", "folder": {"id": ` + uuid + `, "notes": [{"title": "m", "folder": ` + uuid + `}]}}]}`},
		{name: "RefCycleFindsDeepProblem", schema: `{"$ref": "#/components/schemas/Folder"}`,
			value: `{"id": ` + uuid + `, "notes": [{"title": "n", "folder": {"id": ` + uuid + `, "notes": [{"folder": null}]}}]}`,
			want:  `/notes/0/folder: matches none of anyOf: [0] /notes/0/folder: want string, got object (at #/components/schemas/Note/properties/folder/anyOf/0/type); [1] /notes/0/folder/notes/0: missing required property "title"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newValidator(t, Config{})
			schema := decodeJSON(t, tt.schema)
			err := v.Validate(schema, "#/x", decodeJSON(t, tt.value))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			var verr *Error
			require.ErrorAs(t, err, &verr)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestSchemaErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, schema, value string
		want                string
	}{
		{name: "UnknownKeywordFails", schema: `{"type": "string", "contentEncoding": "base64"}`, value: `"x"`,
			want: `schema #/x/contentEncoding: unknown keyword "contentEncoding"`},
		{name: "UnknownKeywordDeepFails", schema: `{"properties": {"a": {"not": {"type": "null"}}}}`, value: `{"a": 1}`,
			want: `schema #/x/properties/a/not: unknown keyword "not"`},
		{name: "UnknownKeywordFailsOnValidValue", schema: `{"anyOf": [{"type": "string"}, {"patternProperties": {}}]}`, value: `"x"`,
			want: `unknown keyword "patternProperties"`},
		{name: "UnknownType", schema: `{"type": "int"}`, value: `1`, want: "type must be a type name"},
		{name: "DanglingRef", schema: `{"$ref": "#/components/schemas/Nope"}`, value: `1`, want: `no "Nope"`},
		{name: "RemoteRef", schema: `{"$ref": "other.json#/x"}`, value: `1`, want: "only references inside the document"},
		{name: "RefLoopWithoutData", schema: `{"$ref": "#/components/schemas/Loop"}`, value: `1`, want: "refers back to itself"},
		{name: "BadPattern", schema: `{"pattern": "(?<=a)b"}`, value: `"ab"`, want: "pattern"},
		{name: "BadMinLength", schema: `{"minLength": -1}`, value: `"ab"`, want: "minLength must be a non-negative integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newValidator(t, Config{})
			err := v.Validate(decodeJSON(t, tt.schema), "#/x", decodeJSON(t, tt.value))
			var serr *SchemaError
			require.True(t, errors.As(err, &serr), "want a schema error, got %v", err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}
