package derive_test

import "testing"

// Three shapes of a new user's trial whose derived cases failed on a correct server:
//   - a rule that a present optional value satisfies (has(record.reason)): the case breaking it
//     sent the value anyway (201, not 400); it now leaves it out, and a PATCH clears it;
//   - a violated_by field the rule's errors do not name (priority breaks a rule on fee): the
//     runner's implied check wanted priority named; the case turns that check off;
//   - every field pinned to its example: patch_valid and put_valid wrote nothing, so the stale
//     If-Match "1" was the record's version (200, not 412); it names a version never reached.
//
// Each passes on both dialects.
func TestDerivedSuiteOfRuleViolationShapesPasses(t *testing.T) {
	runWithGaps(t, writeKiln(t, `name: clinic
database:
  url: ${KILN_DATABASE_URL:-}
roles: [admin, client]
auth: {account: users, signup: open}
resources:
  users:
    fields:
      name: {type: string, max_length: 100}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  visits:
    fields:
      priority: {type: enum, values: [routine, urgent], default: routine}
      reason: {type: string, max_length: 200}
    rules:
      - name: urgent_has_reason
        check: "record.priority != 'urgent' || has(record.reason)"
        fields: [priority]
        code: reason_required
        violated_by: {priority: urgent}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  fees:
    fields:
      priority: {type: enum, values: [routine, urgent], default: routine, example: routine}
      fee: {type: decimal, precision: 8, scale: 2, min: 0, default: "0", example: 5}
    rules:
      - name: urgent_has_fee
        check: "record.priority != 'urgent' || record.fee > decimal('10')"
        fields: [fee]
        code: fee_required
        violated_by: {priority: urgent}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  slots:
    fields:
      a: {type: integer, example: 5}
      b: {type: integer, example: 10}
    rules:
      - {name: a_below_b, check: "record.a < record.b", fields: [a], code: a_lt_b, violated_by: {a: 50}}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
`), nil)
}
