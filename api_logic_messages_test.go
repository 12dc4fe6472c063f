package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// What a client reads of a failed rule, assert, default_expr or compute names the rule or the
// field, never the spec's expression or CEL's error: a rule without message: answered
// "must hold: get('users', ...) == ...", a default_expr "could not be computed: \"get(...)\":
// no such key: id" (a trial).
func TestLogicFailuresDoNotShowTheirExpressions(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", `resources:
  boxes:
    fields:
      name: {type: string, required: true}
      size: {type: integer, default: 1}
      half: {type: integer, compute: "record.size / (record.size - 1)"}
    rules:
      - name: size_small
        check: "record.size < 10"
        fields: [size]
    actions:
      seal:
        access: public
        steps:
          - assert: "record.size > 5"
            code: too_small
    access: {list: public, view: public, create: public, update: public}
`)
	for _, c := range []struct {
		path string
		body map[string]any
		want string
	}{
		{"/api/boxes", map[string]any{"name": "big", "size": 20}, "the rule size_small does not hold"},
		{"/api/boxes", map[string]any{"name": "one", "size": 1}, "could not be computed for this record"},
	} {
		res := b.do("POST", c.path, c.body)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Contains(t, string(res.raw), c.want)
		require.NotContains(t, string(res.raw), "record.size", "no expression")
		require.NotContains(t, string(res.raw), "division", "no CEL error")
	}
	box := b.create("boxes", map[string]any{"name": "small", "size": 2})
	res := b.do("POST", "/api/boxes/"+box+"/seal", map[string]any{})
	require.Equal(t, http.StatusConflict, res.status, string(res.raw))
	require.Contains(t, string(res.raw), "an assertion of the action (too_small) does not hold")
	require.NotContains(t, string(res.raw), "record.size")
}

// An effect (or an action's set:) computing a text its field refuses — none of an enum's values —
// is 409 logic_failed naming that field as resource.field with the constraint's code, as one
// computing a number below its min is; nothing is written (a trial saw no errors at all).
func TestEffectComputingATextItsFieldRefusesNamesTheField(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, `resources:
  tickets:
    fields:
      subject: {type: string, required: true}
      priority: {type: enum, values: [low, high], default: low}
    access: {list: public, view: public, create: public, update: public}
  comments:
    fields:
      ticket: {type: relation, to: tickets, required: true}
      body: {type: string, required: true}
    effects:
      - name: bump
        on: [create]
        update: tickets
        id: record.ticket
        set: {priority: "record.body"}
    access: {list: public, view: public, create: public}
`)
		ticket := b.create("tickets", map[string]any{"subject": "s"})
		res := b.do("POST", "/api/comments", map[string]any{"ticket": ticket, "body": "zzz"})
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "logic_failed", res.body["error"])
		require.Equal(t, map[string]string{"tickets.priority": "enum"}, fieldCodes(res.body), string(res.raw))
		require.NotContains(t, string(res.raw), "record.body")
		require.EqualValues(t, 0, b.count("comments"), "nothing written")
		require.Equal(t, http.StatusCreated, b.do("POST", "/api/comments", map[string]any{"ticket": ticket, "body": "high"}).status)
		require.Equal(t, "high", b.do("GET", "/api/tickets/"+ticket, nil).body["priority"])
	})
}

// A trigger part that cannot be computed for a write is named in the 409: the mail's recipient
// (to:) failing on a pet without an owner answered "a trigger's condition could not be
// computed", though the condition held (a new user's trial); a condition that fails says
// so. Neither shows the expression, and nothing is written.
func TestTriggerFailureNamesThePartThatFailed(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, triggerPartsSpec)
		pet := b.create("pets", map[string]any{"name": "Rex"}) // no owner
		visit := b.create("visits", map[string]any{"pet": pet})
		res := b.do("PATCH", "/api/visits/"+visit, map[string]any{"confirmed": true})
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "logic_failed", res.body["error"], string(res.raw))
		require.Equal(t, "trigger confirmed_mail: its mail recipient (to) could not be computed for this write "+
			"(the server's log names the expression); nothing was written", res.body["detail"])
		require.NotContains(t, string(res.raw), "get(", "no expression")
		got := b.do("GET", "/api/visits/"+visit, nil)
		require.Equal(t, false, got.body["confirmed"], "nothing was written")

		res = b.do("POST", "/api/visits", map[string]any{"pet": pet, "urgent": true})
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "trigger urgent_mail: its condition (when) could not be computed for this write "+
			"(the server's log names the expression); nothing was written", res.body["detail"])
	})
}

const triggerPartsSpec = `mail:
  from: "Clinic <clinic@example.com>"
  provider: smtp
  smtp: {host: 127.0.0.1, port: 1, tls: none}
resources:
  users:
    fields:
      email: {type: email, required: true}
    access: {list: public, view: public, create: public, update: public}
  pets:
    fields:
      name: string
      owner: {type: relation, to: users}
    access: {list: public, view: public, create: public, update: public}
  visits:
    fields:
      pet: {type: relation, to: pets, required: true}
      confirmed: {type: boolean, default: false}
      urgent: {type: boolean, default: false}
    triggers:
      - name: confirmed_mail
        on: [update]
        when: "!old.confirmed && new.confirmed"
        mail:
          to: "get('users', get('pets', new.pet).owner).email"
          subject: "'Your visit is confirmed'"
          text: "'See you soon.'"
      - name: urgent_mail
        on: [create]
        when: "new.urgent && get('users', get('pets', new.pet).owner).email != ''"
        mail:
          to: "'vet@example.com'"
          subject: "'An urgent visit'"
          text: "'Soon.'"
    access: {list: public, view: public, create: public, update: public}
`
