package derive_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/kilntest"
)

// A server that accepted links to records the writer cannot view (hotdesk's desks and lounges
// served as if their relations said allow_hidden) fails the refusal cases the suite derives
// for them, and nothing else in the create files: the cases are the suite's, not the server's.
func TestDerivedSuiteFailsAServerThatAcceptsHiddenLinks(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	path := variant(t, "hotdesk", func(text string) string {
		for _, to := range []string{"desks", "lounges"} {
			text = strings.ReplaceAll(text, "to: "+to+", required: true}", "to: "+to+", required: true, allow_hidden: true}")
		}
		require.Equal(t, 3, strings.Count(text, "allow_hidden: true"), "bookings.desk, visits.lounge, passes.lounge")
		return text
	})
	b := kilntest.New(t, path)
	s, err := spec.Load("testdata/hotdesk.yaml", spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	suite, err := derive.Generate(s) // derived from the spec as it is
	require.NoError(t, err)
	refusals := map[string]bool{"bookings.create.test.yaml/desk_hidden_from_member": true,
		"passes.create.test.yaml/lounge_hidden_from_member": true, "visits.create.test.yaml/lounge_hidden_from_member": true}
	results := runDerived(t, b.App, b.App.Handler(), suite, []string{"bookings.create.test.yaml", "passes.create.test.yaml", "visits.create.test.yaml"})
	require.Len(t, results, 21+22+3)
	for key, res := range results {
		if !refusals[key] {
			require.True(t, res.Passed, "%s: %v", key, res.Failures)
			continue
		}
		require.False(t, res.Passed, "%s passed against a server that accepts hidden links", key)
		require.Contains(t, strings.Join(res.Failures, "\n"), "status: expected 400, got 201", key)
	}
}
