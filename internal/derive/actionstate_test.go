package derive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The parts of an assert on a state field are judged at each state; other parts are assumed
// to hold, and then the verdict is no longer the assert's own answer.
func TestAssertsAreJudgedOnTheStateField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr, state string
		want        verdict
	}{
		{"record.status == 'confirmed'", "confirmed", verdict{known: true, ok: true, pure: true}},
		{"'confirmed' == record.status", "requested", verdict{known: true, ok: false, pure: true}},
		{"old.status != 'cancelled'", "requested", verdict{known: true, ok: true, pure: true}},
		{"record.status in ['confirmed', 'completed']", "completed", verdict{known: true, ok: true, pure: true}},
		{"!(record.status in ['confirmed'])", "confirmed", verdict{known: true, ok: false, pure: true}},
		{"record.status == 'confirmed' && record.fee > 0", "confirmed", verdict{known: true, ok: true}},
		{"record.status == 'a' || record.status == 'b'", "b", verdict{known: true, ok: true, pure: true}},
		{"record.fee > 0", "confirmed", verdict{free: true}},
		{"record.status.startsWith('conf')", "confirmed", verdict{}},
		{"record.status == record.other", "confirmed", verdict{}},
		{"record.status == 'a' && record.status.size() > 0", "a", verdict{}},
	} {
		require.Equal(t, tc.want, judge(parseAssert(tc.expr), "status", tc.state), "%s at %s", tc.expr, tc.state)
	}
	require.Equal(t, verdict{}, judge(parseAssert("record.status =="), "status", "a"), "does not parse: not judged")
}

// An action whose assert needs a state the record does not start in gets the moves that bring
// it there (a PATCH, or another action when the field is readonly) before its run case, and
// run_again expects the assert's code when the assert refuses first.
func TestActionCasesStartFromAStateTheActionRunsFrom(t *testing.T) {
	t.Parallel()
	clinic := fileTexts(generate(t, "testdata/clinic.yaml"))
	complete := clinic["appointments.complete.test.yaml"]
	require.Contains(t, complete, "record_to_confirmed:\n    request:\n      method: PATCH\n      path: /api/appointments/{record.response.id}\n      body:\n        status: confirmed")
	require.Less(t, strings.Index(complete, "record_to_confirmed:"), strings.Index(complete, "  run:"))
	require.Contains(t, complete, "  run_again:")
	again := complete[strings.Index(complete, "  run_again:"):]
	require.Contains(t, again, "status: 409\n      response_contains:\n        - error: not_confirmed")
	require.Contains(t, complete, "  record:\n    request:\n      path: /api/appointments\n      body:\n", "")
	require.Contains(t, complete[strings.Index(complete, "  record:"):], "paid: true\n",
		"a field only staff write, with an example, is sent by the admin who makes the record (the guard reads it)")
	require.Contains(t, complete, "notes_too_long:", "the action's input constraints, as a resource's")
	require.Contains(t, complete, "notes_wrong_type:")
	update := clinic["appointments.update.test.yaml"]
	require.Contains(t, update, "status_transition_refused_for_vet:\n    as: vet\n", "only admin may confirm by PATCH")
	confirm := clinic["appointments.confirm.test.yaml"]
	require.NotContains(t, confirm, "record_to_", "confirm runs from the start state")
	require.Contains(t, confirm, "- error: invalid_transition", "run again, the machine refuses confirmed → confirmed")

	spec, err := os.ReadFile("testdata/clinic.yaml")
	require.NoError(t, err)
	readonly := strings.Replace(string(spec), "initial: [requested]\n", "initial: [requested]\n        readonly: true\n", 1)
	require.NotEqual(t, string(spec), readonly)
	_, ro := deriveSpec(t, readonly)
	complete = ro["appointments.complete.test.yaml"]
	require.Contains(t, complete, "record_to_confirmed:\n    request:\n      path: /api/appointments/{record.response.id}/confirm\n",
		"a readonly state moves through the confirm action")
	require.Contains(t, complete, "forbidden_for_client:\n    as: client\n", "a role the action's rule shuts out: 403")
	require.Contains(t, ro["appointments.create.test.yaml"], "status_readonly:", "a client cannot write a readonly state")
	require.Contains(t, ro["appointments.update.test.yaml"], "status_readonly:\n    request:\n      body:\n        status: requested\n")
	require.Contains(t, ro["appointments.update.test.yaml"], "status: requested\n    expected:\n      status: 400\n      response_contains:\n        - error: validation_failed\n        - errors.*.field: status\n        - errors.*.code: readonly\n")

	// The action's own transition may be guarded (the guard taken to hold); a transition only
	// vet may make has vet run the file, admin being the first role allowed to run it.
	guarded := strings.Replace(string(spec), "- {from: confirmed, to: completed, roles: [admin, vet], when: \"record.paid\"}",
		"- {from: confirmed, to: completed, roles: [admin, vet], when: \"record.fee >= 0\"}", 1)
	require.NotEqual(t, string(spec), guarded)
	guarded = strings.Replace(guarded, "- {from: confirmed, to: no_show, roles: [admin, vet]}", "- {from: confirmed, to: no_show, roles: [vet]}", 1)
	// a guarded move is taken (its guard assumed to hold) when no unguarded way reaches the state
	guarded = strings.Replace(guarded, "- {from: requested, to: confirmed, roles: [admin]}",
		"- {from: requested, to: confirmed, roles: [admin], when: \"record.paid\"}", 1)
	_, got := deriveSpec(t, guarded)
	require.Contains(t, got["appointments.complete.test.yaml"], "  record_to_confirmed:\n")
	require.Contains(t, got["appointments.complete.test.yaml"], "  run:\n")
	require.Contains(t, got["appointments.no_show.test.yaml"], "\nas: vet\n")
	require.Contains(t, got["appointments.no_show.test.yaml"], "  run:\n")

	// No state the assert admits can be reached: the run case is left out and said so.
	unreachable := strings.Replace(readonly, "- assert: \"record.status == 'confirmed'\"", "- assert: \"record.status == 'no_show'\"", 1)
	suite, files := deriveSpec(t, unreachable)
	require.Contains(t, suite.Gaps, "appointments action complete: its run case: no state of status from which admin may run it can be reached from requested")
	require.NotContains(t, files["appointments.complete.test.yaml"], "  run:")
}

// deriveSpec writes a spec into a temporary directory and derives its suite, with each file's text by name.
func deriveSpec(t *testing.T, text string) (*Suite, map[string]string) {
	t.Helper()
	suite := generate(t, writeSpec(t, text))
	return suite, fileTexts(suite)
}

// writeSpec writes text as kiln.yaml in a temporary directory and returns its path.
func writeSpec(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// fileTexts is each derived file's text by name.
func fileTexts(suite *Suite) map[string]string {
	out := map[string]string{}
	for _, f := range suite.Files {
		out[f.Name] = string(f.Data)
	}
	return out
}

// A hostile review's cases: the state a record is created in is its default when the body
// cannot send it; an action is a move (never planned from the state it sets); a second run
// whose assert reads a field the first run set is not predicted; an assert the suite cannot
// judge leaves the run out when the action's own move is impossible from the created state.
func TestActionPlansFollowWhatTheServerDoes(t *testing.T) {
	t.Parallel()
	suite, files := deriveSpec(t, `name: posts
resources:
  posts:
    fields:
      title: {type: string, required: true, max_length: 80}
      closed_at: {type: datetime, readonly: true}
      status:
        type: enum
        values: [draft, open, closed, archived]
        default: open
        readonly: true
        transitions:
          - {from: draft, to: open}
          - {from: open, to: closed}
          - {from: closed, to: archived}
    actions:
      publish:
        access: public
        steps:
          - set: {status: "'open'"}
      close:
        access: public
        steps:
          - assert: "!has(record.closed_at)"
            code: closed_before
            message: closed once already
          - assert: "record.status == 'open'"
            code: not_open
            message: only an open post
          - set: {status: "'closed'", closed_at: "now"}
      archive:
        access: public
        steps:
          - assert: "record.status.startsWith('clo')"
            code: not_closed
            message: only a closed post
          - set: {status: "'archived'"}
    access: {list: public, view: public, create: public, update: public, delete: public}
`)
	closeFile := files["posts.close.test.yaml"]
	require.NotContains(t, closeFile, "record_to_", "created open (the default), close runs as created")
	require.Contains(t, closeFile, "  run:\n")
	require.NotContains(t, closeFile, "run_again", "the first run set closed_at, which an assert reads: not predicted")
	require.NotContains(t, files["posts.publish.test.yaml"], "  run:\n", "publish would set the state the post is in")
	require.Contains(t, suite.Gaps, "posts action publish: its run case: no state of status from which anyone may run it can be reached from open")
	require.NotContains(t, files["posts.archive.test.yaml"], "  run:\n", "open → archived is no transition")
	require.Contains(t, suite.Gaps, "posts action archive: its run case: no state of status from which anyone may run it can be reached from open")
}

// A second run sets the state the record is in: the server refuses that whatever the machine
// lists, so run_again is derived for a state every state may move to (from: "*") too.
func TestRunAgainIsRefusedEvenWithATransitionToItself(t *testing.T) {
	t.Parallel()
	_, files := deriveSpec(t, `name: jobs
resources:
  jobs:
    fields:
      title: {type: string, required: true, max_length: 80}
      status:
        type: enum
        values: [queued, failed]
        default: queued
        transitions: [{from: "*", to: failed}]
    actions:
      fail:
        access: public
        steps:
          - set: {status: "'failed'"}
    access: {list: public, view: public, create: public, update: public, delete: public}
`)
	fail := files["jobs.fail.test.yaml"]
	require.Contains(t, fail, "  run:\n")
	require.Contains(t, fail, "  run_again:\n    expected:\n      status: 409\n      response_contains:\n        - error: invalid_transition\n")
}

// A PUT that leaves fields out keeps a state machine's state: back to the default is a
// transition the machine may refuse (a trial's events started on_sale, their first initial
// state, with draft the default and no way back; the PUT expected 200).
func TestPutKeepsTheState(t *testing.T) {
	t.Parallel()
	texts := fileTexts(generate(t, writeSpec(t, `resources:
  events:
    fields:
      title: {type: string, required: true}
      note: string
      status:
        type: enum
        values: [draft, on_sale, sold_out]
        default: draft
        initial: [on_sale, draft]
        transitions:
          - {from: draft, to: on_sale}
          - {from: on_sale, to: sold_out}
    access: {list: public, view: public, create: public, update: public, delete: public}
`)))
	create := texts["events.create.test.yaml"]
	require.Contains(t, create, "status: on_sale", "records start in the first initial state")
	require.NotContains(t, create, "status: draft\n", "and no body sends the other one")
	update := texts["events.update.test.yaml"]
	put := update[strings.Index(update, "  put_resets_absent_fields:"):]
	put = put[:strings.Index(put, "expected:")]
	require.Contains(t, put, "status: on_sale", "the PUT keeps the state")
	require.Contains(t, update, "status_transition_refused:", "on_sale → draft is refused, and tested so")
}

// A guard that reads a rolled-up or computed value is not taken to hold: a derived order has
// no lines, so its total is 0 and `record.total > 0` refuses the move. The run case is left
// out, saying why, instead of expecting a 200 the server rightly refuses (a trial's pay and
// refund files failed so).
func TestGuardsThatReadRolledUpValuesAreNotAssumed(t *testing.T) {
	t.Parallel()
	suite := generate(t, writeSpec(t, `resources:
  orders:
    fields:
      note: string
      status:
        type: enum
        values: [pending, paid, refunded]
        default: pending
        initial: [pending]
        transitions:
          - {from: pending, to: paid, when: "record.total > 0"}
          - {from: paid, to: refunded}
      total: {type: decimal, precision: 12, scale: 2, default: "0", rollup: {sum: amount, of: lines}}
      lines: {type: relation, to: lines, inverse: order}
    access: {list: public, view: public, create: public, update: public, delete: public}
    actions:
      pay:
        access: public
        steps:
          - set: {status: "'paid'"}
      refund:
        access: public
        steps:
          - set: {status: "'refunded'"}
  lines:
    fields:
      order: {type: relation, to: orders, required: true}
      amount: {type: decimal, precision: 12, scale: 2, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`))
	const why = " (a guard that reads a computed or rolled-up value is not taken to hold)"
	require.Contains(t, suite.Gaps, "orders action pay: its run case: no state of status from which anyone may run it can be reached from pending"+why)
	require.Contains(t, suite.Gaps, "orders action refund: its run case: no state of status from which anyone may run it can be reached from pending"+why)
	texts := fileTexts(suite)
	require.NotContains(t, texts["orders.pay.test.yaml"], "  run:")
	require.NotContains(t, texts["orders.refund.test.yaml"], "record_to_paid:")
}

// An assert that reads a rolled-up or computed value is not taken to hold either: a derived
// order has no lines, so "record.line_count > 0" refuses it. The run case is left out, saying
// why, as are the moves through that action (pay, from placed, reachable only by place) and
// the run of an action that moves no state machine; market.yaml with place asserting it
// expected 200 where the server answered 409 not_in_cart.
func TestAssertsThatReadRolledUpValuesAreNotAssumed(t *testing.T) {
	t.Parallel()
	suite := generate(t, writeSpec(t, `resources:
  orders:
    fields:
      note: string
      status:
        type: enum
        values: [cart, placed, paid]
        default: cart
        readonly: true
        transitions:
          - {from: cart, to: placed}
          - {from: placed, to: paid}
      line_count: {type: integer, default: 0, rollup: {count: true, of: lines}}
      lines: {type: relation, to: lines, inverse: order}
    access: {list: public, view: public, create: public, update: public, delete: public}
    actions:
      place:
        access: public
        steps:
          - assert: "record.status == 'cart' && record.line_count > 0"
            code: empty
            message: an order needs lines
          - set: {status: "'placed'"}
      pay:
        access: public
        steps:
          - set: {status: "'paid'"}
      touch:
        access: public
        steps:
          - assert: "record.line_count > 0"
            code: empty
            message: an order needs lines
          - set: {note: "'touched'"}
  lines:
    fields:
      order: {type: relation, to: orders, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`))
	const why = ": its run case: an assert reads a computed or rolled-up value, which is not taken to hold"
	require.Contains(t, suite.Gaps, "orders action place"+why)
	require.Contains(t, suite.Gaps, "orders action touch"+why)
	require.Contains(t, suite.Gaps, "orders action pay: its run case: no state of status from which anyone may run it can be reached from cart")
	texts := fileTexts(suite)
	for _, file := range []string{"orders.place.test.yaml", "orders.pay.test.yaml", "orders.touch.test.yaml"} {
		require.NotContains(t, texts[file], "  run:", file)
	}
}
