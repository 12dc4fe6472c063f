package spec

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAuthBlockAndAccessRules(t *testing.T) {
	t.Parallel()
	src := `roles: [admin, staff, customer]
auth:
  account: users
  access_ttl: 5m
resources:
  users:
    fields:
      name: string
  products:
    fields:
      name: string
      cost: {type: decimal, write: [staff, admin]}
    access:
      list: public
      create: [staff, admin]
      update: "auth.role == 'staff'"
`
	s, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	require.Equal(t, "users", s.Auth.Account)
	require.Equal(t, 5*time.Minute, s.Auth.AccessTTL)
	require.Equal(t, "customer", s.Auth.DefaultRole, "the last role is the default")
	require.Equal(t, "open", s.Auth.Signup)
	users := s.Resource("users")
	for _, name := range []string{"email", "password_hash", "role", "verified", "disabled"} {
		require.NotNil(t, users.Field(name), name)
		require.True(t, users.Field(name).System)
	}
	require.True(t, users.Field("password_hash").Hidden)
	require.Equal(t, []string{"admin"}, users.Field("role").Write)
	p := s.Resource("products")
	require.True(t, p.Access[ActionList].Public)
	require.Equal(t, []string{"staff", "admin"}, p.Access[ActionCreate].Roles)
	require.Equal(t, "auth.role == 'staff'", p.Access[ActionUpdate].Expr)
	require.Equal(t, Pos{File: "k.yaml", Line: 16, Column: 15}, p.Access[ActionUpdate].Pos)
	require.Equal(t, []string{"staff", "admin"}, p.Field("cost").Write)
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	src := `roles: [admin]
auth:
  account: people
  signup: sometimes
  refresh_ttl: forever
resources:
  users:
    fields:
      password: string
    access:
      view: [root]
      list: []
  tags:
    fields:
      name: {type: string, write: [editor]}
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	text := err.Error()
	for _, want := range []string{
		`k.yaml:5:16: auth.refresh_ttl must be a positive duration such as 15m or 720h, not "forever"`,
		`k.yaml:12:13: access.list: an empty role list would deny everyone`,
		`k.yaml:2:1: auth.signup must be one of open, invite, off, not "sometimes"`,
		`k.yaml:2:1: auth.account must name the account resource, not "people"`,
		`k.yaml:11:13: access.view: "root" is not one of the roles`,
		`k.yaml:15:7: field name: write role "editor" is not one of the roles`,
	} {
		require.Contains(t, text, want)
	}

	_, err = Parse("k.yaml", []byte("resources:\n  a:\n    fields:\n      b: string\n    access:\n      view: [x]\n"), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, "access.view: roles and expressions need an auth block")
}

// default: auth.id fills in the signed-in account's id: on a relation it must point to the
// account resource (a relation to another resource would refer to a record that is not there).
func TestAuthIDDefaultOnARelationToAnotherResource(t *testing.T) {
	t.Parallel()
	src := `roles: [admin]
auth:
  account: users
resources:
  users:
    fields:
      name: string
  performers:
    fields:
      name: string
  events:
    fields:
      owner: {type: relation, to: users, default: auth.id}
      headliner: {type: relation, to: performers, default: auth.id}
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, "k.yaml:14:7: field headliner: default auth.id is the signed-in account's id, so the relation must point to the account resource users, not performers")
	require.NotContains(t, err.Error(), "field owner")
}

// A role that looks like a typo of one of the roles is named.
func TestRoleTypoIsNamed(t *testing.T) {
	t.Parallel()
	src := "roles: [admin, organizer]\nauth:\n  account: users\nresources:\n  users:\n    fields:\n      name: string\n    access:\n      view: [organiser]\n"
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, `access.view: "organiser" is not one of the roles (did you mean "organizer"?)`)
}

// An incoming webhook at a path Kiln serves already (the API under server.base_path, the docs
// page) is a spec error at its path: it validated, then kiln serve stopped on the route clash.
func TestIncomingWebhookPathThatKilnServes(t *testing.T) {
	t.Parallel()
	hook := func(path string) string {
		return "incoming_webhooks:\n  - name: carrier\n    path: " + path + "\n    scheme: standard\n    secret_env: CARRIER_SECRET\n    handler: carrier\n"
	}
	for path, want := range map[string]string{
		"/api/shipments":  `path "/api/shipments" is under server.base_path /api, where the API is served`,
		"/api/auth/login": `path "/api/auth/login" is under server.base_path /api`,
		"/docs/x":         `path "/docs/x" is Kiln's own /docs`,
		"/healthz":        `path "/healthz" is Kiln's own /healthz`,
		"/":               `path "/" is the root, where Kiln answers unknown paths`,
	} {
		_, err := Parse("k.yaml", []byte(hook(path)+"resources:\n  shipments:\n    fields:\n      note: string\n"), ParseOpts{LookupEnv: noEnv})
		require.ErrorContains(t, err, "k.yaml:3:11: incoming webhook carrier: "+want, path)
	}
	for _, free := range []string{"/hooks/carrier", "/healthz/carrier", "/apix"} {
		_, err := Parse("k.yaml", []byte(hook(free)+"resources:\n  shipments:\n    fields:\n      note: string\n"), ParseOpts{LookupEnv: noEnv})
		require.NoError(t, err, free)
	}
	_, err := Parse("k.yaml", []byte("server:\n  base_path: /\nresources:\n  shipments:\n    fields:\n      note: string\n"), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, `server.base_path must be a prefix such as /api or /v1`, "the API cannot have the root")
}

// A webhook URL that spells out an internal address is a spec error unless
// webhooks_allow_hosts allows it: it validated, then kiln serve refused it after migrating.
func TestWebhookURLAtAnInternalAddress(t *testing.T) {
	t.Parallel()
	hook := func(u string) string {
		return "webhooks:\n  - name: out\n    url: " + u + "\n    secret_env: OUT_SECRET\n    events: [notes.*]\nresources:\n  notes:\n    fields:\n      text: string\n"
	}
	for _, u := range []string{"http://10.0.0.5/x", "http://169.254.169.254/latest", "http://[::1]:9000/", "http://127.0.0.1:9000/"} {
		_, err := Parse("k.yaml", []byte(hook(u)), ParseOpts{LookupEnv: noEnv})
		require.ErrorContains(t, err, "webhook out: url \""+u+"\" is an internal address deliveries may not reach; allow it with webhooks_allow_hosts", u)
	}
	for _, src := range []string{hook("https://hooks.example.com/x"), hook("http://203.0.114.9/x"), "webhooks_allow_hosts: [127.0.0.1]\n" + hook("http://127.0.0.1:9000/")} {
		_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
		require.NoError(t, err, src)
	}
}

// A role listed twice is an error at its second entry, in roles' own words: it was reported
// as the account's role field's enum value, at the auth block (a new user's trial).
func TestDuplicateRoleIsReportedAtItsEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, roles, want string }{
		{name: "Flow", roles: "roles: [admin, vet, client, vet]\n", want: `k.yaml:1:29: role "vet" is listed twice`},
		{name: "Block", roles: "roles:\n  - admin\n  - vet\n  - vet\n", want: `k.yaml:4:5: role "vet" is listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := tc.roles + "auth:\n  account: users\nresources:\n  users:\n    fields:\n      name: string\n"
			_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
			require.EqualError(t, err, tc.want)
		})
	}
}
