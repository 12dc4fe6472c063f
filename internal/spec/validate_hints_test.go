package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
