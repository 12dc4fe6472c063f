package kiln_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// typoBase is a helpdesk a trial wrote (trimmed): roles agent and admin, tickets with an enum.
const typoBase = `roles: [admin, agent, customer]
auth:
  account: users
  signup: open
  default_role: customer
  admin_roles: [admin]
resources:
  users:
    fields:
      name: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  tickets:
    fields:
      subject: {type: string, required: true}
      priority: {type: enum, values: [low, normal, high, urgent], default: normal}
      escalated: {type: boolean, default: false}
    actions:
      solve:
        access: "auth.role in ['agent', 'admin']"
        steps:
          - set: {escalated: "false"}
    rules:
      - name: agents_raise_priority
        on: [update]
        check: "record.priority != 'urgent' || auth.role == 'agent' || auth.role == 'admin'"
    access:
      list: "auth.role == 'admin' || auth.role == 'agent'"
      view: "auth.role == 'admin' || 'agent' in auth.roles"
      create: [customer, agent, admin]
      update: [agent, admin]
      delete: [admin]
schedules:
  - name: escalate
    cron: "@every 5m"
    update: {resource: tickets, filter: "!escalated", set: {escalated: "true", priority: "'urgent'"}}
webhooks:
  - name: changes
    url: https://hooks.example.com/in
    secret_env: HOOK_SECRET
    events: [tickets.update]
    when: "auth.role == 'agent'"
`

// A role compared with a text that is none of the spec's roles (auth.role == 'admn') holds for
// nobody: an access rule, an action's rule, a rule or a webhook's condition written so locks a
// role out, or never fires, without a word. Each is a spec error at its place, naming the role
// it looks like; and a schedule's or trigger's set: of a text none of an enum's values (which
// refused every record of every run) is one too, as an effect's and an action's are.
func TestRoleAndEnumTyposInExpressionsAreSpecErrors(t *testing.T) {
	t.Parallel()
	_, err := loadSpecIn(t, t.TempDir(), typoBase)
	require.NoError(t, err, "the base spec is valid")
	for _, c := range []struct{ from, to, want string }{
		{`list: "auth.role == 'admin' ||`, `list: "auth.role == 'admn' ||`, `access.list: at 1:14: "admn" is not one of the roles (did you mean "admin"?)`},
		{`view: "auth.role == 'admin' || 'agent' in`, `view: "auth.role == 'admin' || 'agnt' in`, `access.view: at 1:25: "agnt" is not one of the roles (did you mean "agent"?)`},
		{`access: "auth.role in ['agent', 'admin']"`, `access: "auth.role in ['agent', 'admn']"`, `access.action:solve: at 1:24: "admn" is not one of the roles`},
		{`|| auth.role == 'agent' ||`, `|| auth.role == 'agnt' ||`, `rule agents_raise_priority: at 1:45: "agnt" is not one of the roles (did you mean "agent"?)`},
		{`when: "auth.role == 'agent'"`, `when: "'agnt' == auth.role"`, `webhook changes when: at 1:1: "agnt" is not one of the roles`},
		{`priority: "'urgent'"}`, `priority: "'urgen'"}`, `schedule escalate: set: priority "urgen" is not one of its values (low, normal, high, urgent)`},
	} {
		src := strings.Replace(typoBase, c.from, c.to, 1)
		require.NotEqual(t, typoBase, src, c.from)
		path, err := loadSpecIn(t, t.TempDir(), src)
		require.Error(t, err, c.to)
		require.Contains(t, err.Error(), path+":", "file:line:col")
		require.Contains(t, err.Error(), c.want)
	}
}
