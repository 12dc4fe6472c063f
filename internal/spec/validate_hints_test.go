package spec

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hintsSpec is a small applicant-tracking spec, valid as it stands: each case of
// TestSpecErrorsHintTheNameMeant breaks one name in it, as a new user's spec did.
const hintsSpec = `roles: [recruiter, admin]
resources:
  jobs:
    fields:
      title: string
      open_count: {type: integer, rollup: {count: true, of: applications}}
      applications: {type: relation, to: applications, inverse: job}
  applications:
    fields:
      job: {type: relation, to: jobs}
      candidate: string
      status:
        type: enum
        values: [new, rejected]
        default: new
        transitions:
          - {from: new, to: rejected, roles: [recruiter]}
    actions:
      reject:
        access: public
        steps:
          - set: {status: "'rejected'"}
    triggers:
      - name: auto_reject
        on: [create]
        when: "new.candidate == ''"
        action: reject
    effects:
      - name: touch_job
        update: jobs
        id: record.job
        set: {title: "target.title"}
schedules:
  - name: reject_stale
    cron: "0 3 * * *"
    update:
      resource: applications
      filter: "status == 'new'"
      action: reject
webhooks:
  - name: hr
    url: https://hr.example/hooks
    events: [applications.update]
    secret_env: HR_SECRET
`

// A name that is close to one the spec has is answered with it, at the name's position; a
// role named where the spec declares none says so rather than listing no roles.
func TestSpecErrorsHintTheNameMeant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, old, new, want string }{
		{name: "TransitionRoleNoRoles", old: "roles: [recruiter, admin]\n", new: "",
			want: `k.yaml:16:47: field status: transition roles: "recruiter" is not one of the roles: ` +
				`the spec declares none (add roles: [...] at the top)`},
		{name: "RollupOf", old: "of: applications}", new: "of: application}",
			want: `k.yaml:6:43: field open_count: rollup of: "application" must be an inverse of a to-one relation (1:N) of jobs ` +
				`(did you mean "applications"?)`},
		{name: "WebhookEventResource", old: "events: [applications.update]", new: "events: [application.update]",
			want: `k.yaml:43:14: webhook hr: event application.update: no resource application (did you mean "applications"?)`},
		{name: "WebhookEventAction", old: "events: [applications.update]", new: "events: [applications.rejct]",
			want: `k.yaml:43:14: webhook hr: event applications.rejct: rejct is not create, update, delete or an action of applications ` +
				`(did you mean "reject"?)`},
		{name: "ScheduleAction", old: "action: reject\nwebhooks", new: "action: rejct\nwebhooks",
			want: `k.yaml:39:15: schedule reject_stale: applications has no action "rejct" (did you mean "reject"?)`},
		{name: "TriggerAction", old: "        action: reject", new: "        action: rejct",
			want: `k.yaml:27:17: trigger auto_reject: applications has no action "rejct" (did you mean "reject"?)`},
		{name: "EffectResource", old: "update: jobs", new: "update: job",
			want: `k.yaml:29:13: effect touch_job: update: "job" is not a resource (did you mean "jobs"?)`},
		{name: "ScheduleResource", old: "resource: applications", new: "resource: application",
			want: `k.yaml:37:15: schedule reject_stale: update.resource "application" is not a resource of the spec (did you mean "applications"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(hintsSpec, tc.old, tc.new, 1)
			require.NotEqual(t, hintsSpec, src)
			_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
			require.EqualError(t, err, tc.want)
		})
	}
	_, err := Parse("k.yaml", []byte(hintsSpec), ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
}

// Every role a spec without roles: names says the spec declares none, rather than
// "(allowed: )"; the account's role field, an enum of the roles, adds no error of its own.
func TestRoleNamedWithoutRolesSaysNoneAreDeclared(t *testing.T) {
	t.Parallel()
	const src = `auth:
  account: users
resources:
  users:
    fields:
      name: {type: string, write: [editor]}
    access:
      view: [organiser]
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.EqualError(t, err, "k.yaml:1:1: auth needs roles: [...] at the top level\n"+
		`k.yaml:8:13: access.view: "organiser" is not one of the roles: the spec declares none (add roles: [...] at the top)`+"\n"+
		`k.yaml:6:7: field name: write role "editor" is not one of the roles: the spec declares none (add roles: [...] at the top)`)
}
