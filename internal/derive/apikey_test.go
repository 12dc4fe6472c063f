package derive

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// An API key is no account: a required relation defaulting to auth.id that the key's role may
// not set (readonly) has no value, and the create is the 400 naming it. The case sends
// create_valid's body, so the only change is the credential (a fresh text was a changed field
// the 400 did not name, and failed the runner's implied-field check on a correct server: trial
// 1, min1), and its comment no longer says the key may create.
func TestAPIKeyCaseOfARequiredCreatorDefaultSendsCreateValidsBody(t *testing.T) {
	t.Parallel()
	suite, files := deriveSpec(t, memberNotesSpec)
	create := casesOf(t, suite, "notes.create.test.yaml")
	c := create["create_with_an_api_key"]
	require.Equal(t, 400, c.Expected.Status)
	require.Contains(t, c.Expected.ResponseContains, map[string]any{"errors.*.field": "owner"})
	require.Equal(t, create["create_valid"].Request.Body, c.Request.Body)
	require.Len(t, c.Expected.DatabaseCheck, 1, "create_valid's record is still the only one")
	text := files["notes.create.test.yaml"]
	comment := text[:strings.Index(text, "  create_with_an_api_key:")]
	require.NotContains(t, comment[strings.LastIndex(comment, "\n  #"):], "may create")
}
