package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A rule's violated_by value that its field refuses is reported as the rule's, at the value:
// the derived suite would send it and get the field's error, never the rule's.
func TestRuleViolatedByErrorsHavePositions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, violatedBy, want string
	}{
		{name: "WrongType", violatedBy: `{quantity: many}`,
			want: `k.yaml:10:33: rule in_stock: violated_by: quantity "many" does not fit type integer (the field refuses it, so the derived suite would never reach the rule)`},
		{name: "OutOfBounds", violatedBy: "\n          quantity: 0",
			want: `k.yaml:11:21: rule in_stock: violated_by: quantity "0" is outside min/max (the field refuses it, so the derived suite would never reach the rule)`},
		{name: "NotAValue", violatedBy: `{when: now}`,
			want: `k.yaml:10:29: rule in_stock: violated_by: when "now" does not fit type datetime`},
		{name: "UnknownField", violatedBy: `{quantiy: 5}`,
			want: `k.yaml:10:23: rule in_stock: violated_by: "quantiy" is not a field of items (did you mean "quantity"?)`},
		{name: "Null", violatedBy: `{quantity: null}`,
			want: `k.yaml:10:33: rule.violated_by: quantity is null: give the value that breaks the rule, which the derived suite sends`},
		{name: "NotWritten", violatedBy: `{total: 5}`,
			want: `k.yaml:10:23: rule in_stock: violated_by: total must be a plain field a client writes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := "resources:\n  items:\n    fields:\n" +
				"      quantity: {type: integer, min: 1}\n" +
				"      when: datetime\n" +
				"      total: {type: integer, readonly: true}\n" +
				"    rules:\n" +
				"      - name: in_stock\n" +
				"        check: \"record.quantity < 100\"\n" +
				"        violated_by: " + tc.violatedBy + "\n"
			_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "example")
		})
	}
	src := "resources:\n  items:\n    fields:\n      quantity: {type: integer, min: 1}\n" +
		"    rules:\n      - {name: in_stock, check: \"record.quantity < 100\", violated_by: {quantity: 100}}\n"
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
}

// Two rules (or two effects) of one resource with the same name are a spec error at the
// second, saying where the first is: the derived suite names its cases after rules, and
// crashed on the duplicate YAML key (a new user's trial). Rules of other resources may
// share a name.
func TestDuplicateRuleAndEffectNamesAreRefused(t *testing.T) {
	t.Parallel()
	const src = `resources:
  items:
    fields:
      qty: integer
      stock: {type: relation, to: stocks}
    rules:
      - {name: positive, check: "record.qty > 0"}
      - {name: small, check: "record.qty < 10"}
      - name: positive
        check: "record.qty != 3"
    effects:
      - {name: take, update: stocks, id: record.stock, set: {left: "1"}}
      - {name: take, update: stocks, id: record.stock, set: {left: "2"}}
  stocks:
    fields:
      left: integer
    rules:
      - {name: positive, check: "record.left > 0"}
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.EqualError(t, err, "k.yaml:9:15: rule positive is declared twice (first at line 7)\n"+
		"k.yaml:13:16: effect take is declared twice (first at line 12)")
}

// A rule's (or an effect's) on: that is no operation names the rule, as its other errors do,
// and the operation it looks like a typo of — wherever the name is written in the rule.
func TestBadRuleOnNamesTheRuleAndSuggests(t *testing.T) {
	t.Parallel()
	const src = `resources:
  visits:
    fields:
      urgent: boolean
      reason: string
    rules:
      - on: [craete, update]
        check: "!record.urgent || has(record.reason)"
        name: urgent_has_reason
      - {check: "record.reason != ''", on: [delte]}
      - {name: short, check: "size(record.reason) < 100", on: [patch]}
    effects:
      - {name: touch, on: [updte], update: visits, id: record.id, set: {reason: "'x'"}}
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.EqualError(t, err, `k.yaml:7:14: rule urgent_has_reason: on: "craete" is not create, update or delete (did you mean "create"?)`+"\n"+
		`k.yaml:10:45: rule.on: "delte" is not create, update or delete (did you mean "delete"?)`+"\n"+
		`k.yaml:11:64: rule short: on: "patch" is not create, update or delete`+"\n"+
		`k.yaml:13:28: effect touch: on: "updte" is not create, update or delete (did you mean "update"?)`)
}
