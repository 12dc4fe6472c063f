package derive

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/selftest"
)

// A role allowed to create records whose required relation points at records it cannot view
// (members, and desks or lounges only admins see) makes none: the server refuses the link like
// a missing record. Another creating role that can link makes the records (admins, though
// members come first among the roles); that role's refusal is derived (400 not_found naming the
// relation, nothing written), and its own-record cases are not. When no creating role can link
// (visits, by members only), the resource cannot be made: its create file is the refusal alone,
// its files are gaps naming the relation, and so are those of a resource that requires it.
func TestRequiredLinksToRecordsTheCreatorCannotView(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/hotdesk.yaml")
	files := fileTexts(suite)
	visits := "the required relation visits.lounge refers to lounges, which member, allowed to create visits, cannot view"
	for _, action := range []string{"create", "view", "list", "update", "delete"} {
		require.Contains(t, suite.Gaps, "visits "+action+": "+visits)
		require.Contains(t, suite.Gaps, fmt.Sprintf("stamps %s: the required relation stamps.visit refers to visits, which cannot be made: %s", action, visits))
		require.NotContains(t, files, "stamps."+action+".test.yaml")
		if action != "create" {
			require.NotContains(t, files, "visits."+action+".test.yaml")
		}
	}
	require.Len(t, suite.Gaps, 10, "visits and stamps: five files each")
	require.Equal(t, []string{"setup_lounges", "setup_lounges_9", "lounge_hidden_from_member"}, caseNames(t, suite)["visits.create.test.yaml"])

	for file, field := range map[string]string{"bookings.create.test.yaml": "desk", "passes.create.test.yaml": "lounge", "visits.create.test.yaml": "lounge"} {
		c := casesOf(t, suite, file)[field+"_hidden_from_member"]
		require.NotNil(t, c, file)
		require.Equal(t, 400, c.Expected.Status, file)
		require.Contains(t, c.Expected.ResponseContains, map[string]any{"errors.*.field": field}, file)
		require.Contains(t, c.Expected.ResponseContains, map[string]any{"errors.*.code": "not_found"}, file)
		require.Len(t, c.Expected.DatabaseCheck, 1, "%s: nothing links the target made for the case", file)
	}
	for _, file := range []string{"bookings.create.test.yaml", "passes.create.test.yaml", "passes.list.test.yaml", "passes.view.test.yaml", "bookings.view.test.yaml"} {
		tf, err := selftest.ParseFile(file, []byte(files[file]))
		require.NoError(t, err)
		for _, c := range tf.Cases {
			if c.Expected.Status == 201 && !strings.HasSuffix(c.Name, "_hidden_from_member") {
				require.Equal(t, "admin", firstOf(c.As, tf.As), "%s %s: admins make the records", file, c.Name)
			}
		}
	}
	names := caseNames(t, suite)
	require.Contains(t, names["bookings.view.test.yaml"], "other_accounts_record_as_member", "an admin's booking is another account's")
	for _, file := range []string{"bookings.view.test.yaml", "bookings.update.test.yaml", "bookings.list.test.yaml"} {
		require.NotContains(t, names[file], "owned_by_member", "%s: a member makes no booking", file)
		require.NotContains(t, names[file], "own_record_as_member", file)
	}
	for name, c := range casesOf(t, suite, "passes.create.test.yaml") {
		if body, ok := c.Request.Body.(map[string]any); ok && c.Expected.Status < 300 {
			require.NotContains(t, body, "visit", "%s: passes leave their optional visit out: no visit can be made", name)
		}
	}
}

// Expanded records obey their own resource's view rule: a relation whose targets the file's
// role may not view at all (members list passes, only admins see lounges) is expanded with a
// 403 and left out of the list's expand of every relation.
func TestExpandingWhatTheRoleCannotViewIsRefused(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/hotdesk.yaml")
	view := casesOf(t, suite, "passes.view.test.yaml")["view_expanding_lounge"]
	require.NotNil(t, view)
	require.Equal(t, 403, view.Expected.Status)
	list := casesOf(t, suite, "passes.list.test.yaml")
	require.Equal(t, 403, list["expanding_lounge_refused"].Expected.Status)
	require.Equal(t, "/api/passes?expand=visit&limit=2", list["expanded_relations"].Request.Path)
	require.Equal(t, 200, casesOf(t, suite, "bookings.view.test.yaml")["view_expanding_desk"].Expected.Status, "admins view bookings, and desks")
}
