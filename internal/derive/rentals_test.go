package derive

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// An account's own record takes PATCH, but not of its email: Kiln answers 400 not_allowed
// ("change your email with POST /api/auth/email"), by design. The own-record cases of the
// account resource sent the email and expected 200; they now change another field.
func TestOwnAccountPatchLeavesItsEmailAlone(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("testdata/rentals.yaml")
	require.NoError(t, err)
	text := strings.Replace(string(src), "      delete: [admin]\n    fields:\n      email:",
		"      delete: [admin]\n      create: [admin]\n    fields:\n      email:", 1)
	require.NotEqual(t, string(src), text)
	suite := generate(t, writeSpec(t, text))
	cases := casesOf(t, suite, "users.update.test.yaml")
	for _, role := range []string{"landlord", "tenant"} {
		own := cases["own_record_as_"+role]
		require.NotNil(t, own, role)
		body := own.Request.Body.(map[string]any)
		require.NotContains(t, body, "email", role)
		require.Equal(t, map[string]any{"name": "Jane Doe"}, body, role)
		require.Equal(t, 200, own.Expected.Status)
	}
	require.Contains(t, cases["patch_valid"].Request.Body, "email", "an admin may still change another account's email")
}
