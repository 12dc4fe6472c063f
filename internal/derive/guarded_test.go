package derive

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A required field that write roles guard and nothing fills (no default) is in every body its
// writers send, a relation among them referring to a record the file makes: left out, every
// create, PUT and list record answered 400 required.
func TestRequiredFieldsGuardedByWriteRolesAreSent(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/guarded.yaml")
	byName := casesOf(t, suite, "invoices.create.test.yaml")
	require.NotNil(t, byName["setup_users"], "the owner the bodies refer to is made in the file")
	for _, name := range []string{"create_valid", "create_with_an_api_key"} {
		body, ok := byName[name].Request.Body.(map[string]any)
		require.True(t, ok, "%s: %T", name, byName[name].Request.Body)
		require.Equal(t, "{setup_users.response.id}", body["owner"], name)
		require.NotEmpty(t, body["number"], name)
	}
	put := casesOf(t, suite, "invoices.update.test.yaml")["put_valid"]
	body, ok := put.Request.Body.(map[string]any)
	require.True(t, ok, "%T", put.Request.Body)
	require.Contains(t, body, "owner")
	require.Contains(t, body, "number")
}
