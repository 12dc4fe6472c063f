package derive

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

// From a new user's trial (testdata/rentals.yaml): no role may create users — accounts sign
// up — yet a lease's tenant is a required relation to one. The files set up a user with POST
// /api/users all the same, which a correct server refuses (403), and 247 cases failed after
// it. A record referring to an account now refers to a test account of the default role of
// its own (GET auth/me, as tenant:<file>_setup_users): what a sign-up makes.
func TestAccountsNoRoleMayCreateAreTestAccounts(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/rentals.yaml")
	for _, f := range suite.Files {
		require.False(t, strings.Contains(string(f.Data), "path: /api/users\n"), "%s: nothing posts to /api/users", f.Name)
	}
	for _, gap := range suite.Gaps {
		require.True(t, strings.HasPrefix(gap, "users ") || strings.HasPrefix(gap, "maintenance_requests "), gap)
	}
	require.Contains(t, suite.Gaps, "users create: no role may create users")
	cases := casesOf(t, suite, "leases.create.test.yaml")
	setup := cases["setup_users"]
	require.NotNil(t, setup)
	require.Equal(t, "GET", setup.Request.Method)
	require.Equal(t, "/api/auth/me", setup.Request.Path)
	require.Equal(t, "tenant:leases_create_setup_users", setup.As, "an account of the default role, of its own")
	require.Equal(t, 200, setup.Expected.Status)
	valid := cases["create_valid"].Request.Body.(map[string]any)
	require.Equal(t, "{setup_users.response.id}", valid["tenant"])
}

// Units are unique per (property, label), and label has an example ("Apt 1"): the setup units
// of a lease file shared their property and sent the same label, so the second answered 409
// and about 130 cases failed after it. Under a composite unique index the label now varies as
// a unique field's does (a random value), whatever the relation shares.
func TestCompositeUniqueIndexVariesSetupRecords(t *testing.T) {
	t.Parallel()
	s, err := spec.Load("testdata/rentals.yaml", spec.ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	suite, err := Generate(s)
	require.NoError(t, err)
	requireDistinctCombinations(t, s, suite)
	cases := casesOf(t, suite, "leases.list.test.yaml")
	for _, name := range []string{"setup_units", "setup_units_1"} {
		body := cases[name].Request.Body.(map[string]any)
		require.Equal(t, "{random:units.label}", body["label"], name)
	}
	require.Contains(t, casesOf(t, suite, "units.create.test.yaml"), "unique_index_1_taken")
}

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
