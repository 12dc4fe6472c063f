package spec

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A schedule, a trigger and an incoming webhook run an action with no input, so one whose
// input has a required field without a default is a spec error at load: it was accepted, and
// every run refused every record (validation_failed, logged at INFO and skipped) — found by
// hand with a schedule running tickets.yaml's refund, whose reason is required.
func TestActionsRunWithoutInputNeedNone(t *testing.T) {
	t.Parallel()
	const src = `name: t
schedules:
  - name: nightly
    cron: "@daily"
    update: {resource: tickets, filter: "seat == 'A1'", action: refund}
incoming_webhooks:
  - name: psp
    path: /hooks/psp
    scheme: standard
    secret_env: PSP_SECRET
    action: {resource: tickets, name: refund, record_id: data.id}
resources:
  tickets:
    fields:
      seat: string
      reason: string
    triggers:
      - {name: undo, on: [create], action: refund}
      - {name: undo_all, on: [create], update: {resource: tickets, filter: "seat == new.seat", action: refund}}
      - {name: note_it, on: [create], action: note}
    actions:
      refund:
        access: public
        input: {reason: {type: string, required: true}}
        steps:
          - set: {reason: input.reason}
      note:
        access: public
        input: {reason: {type: string, required: true, default: "none given"}, extra: string}
        steps:
          - set: {reason: input.reason}
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.Error(t, err)
	errs := err.(Errors)
	require.Len(t, errs, 4, err.Error())
	// each error points at the action's name, where the spec names it
	for _, owner := range []string{"5:65: schedule nightly", "11:39: incoming webhook psp", "18:44: trigger undo", "19:104: trigger undo_all"} {
		require.Contains(t, err.Error(), "k.yaml:"+owner+": action refund of tickets needs input reason (required, no default)")
	}
	require.NotContains(t, err.Error(), "action note")

	ok := strings.NewReplacer("action: refund}", "action: note}", "name: refund, record_id", "name: note, record_id",
		"undo, on: [create], action: refund", "undo, on: [create], action: note").Replace(src)
	_, err = Parse("k.yaml", []byte(ok), ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
}

// default: auth.id is no default where no account runs the action: a trigger runs it on
// Kiln's own authority, so the field stays empty and every run was refused (required), while
// the spec loaded. A client's call fills it in; a default: now fills it in everywhere.
func TestInputlessRunHasNoAuthID(t *testing.T) {
	t.Parallel()
	src := `roles: [admin, staff]
auth:
  account: users
resources:
  users:
    fields:
      name: string
  tickets:
    fields:
      seat: string
      by: {type: relation, to: users}
      at: datetime
    triggers:
      - {name: mark, on: [create], action: ACTION}
    actions:
      claim:
        access: [staff]
        input: {who: {type: relation, to: users, required: true, default: auth.id}}
        steps:
          - set: {by: input.who}
      stamp:
        access: [staff]
        input: {when: {type: datetime, required: true, default: now}}
        steps:
          - set: {at: input.when}
`
	_, err := Parse("k.yaml", []byte(strings.Replace(src, "ACTION", "claim", 1)), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, "k.yaml:14:44: trigger mark: action claim of tickets needs input who (required, no default)")
	_, err = Parse("k.yaml", []byte(strings.Replace(src, "ACTION", "stamp", 1)), ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
}
