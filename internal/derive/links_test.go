package derive

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// An optional link to a resource no role may create is left out: the resource is derived,
// no body sends the link, and no case needs a record at the other end (no setup badge, no
// expand of a badge, no filter on one, no unique case a null link could not clash in).
func TestOptionalLinksToUnderivableTargetsAreLeftOut(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/links.yaml")
	files := fileTexts(suite)
	for _, res := range []string{"notes", "shelves", "projects", "tasks"} {
		for _, action := range []string{"create", "view", "list", "update", "delete"} {
			name := res + "." + action + ".test.yaml"
			require.Contains(t, files, name)
			require.NotContains(t, files[name], "setup_badges", name)
			for _, gap := range suite.Gaps {
				require.False(t, strings.HasPrefix(gap, res+" "), "%s is derived: %s", res, gap)
			}
		}
	}
	names := caseNames(t, suite)
	for _, file := range []string{"notes.create.test.yaml", "notes.update.test.yaml", "notes.list.test.yaml", "notes.view.test.yaml"} {
		for _, c := range casesOf(t, suite, file) {
			body, ok := c.Request.Body.(map[string]any)
			if !ok || c.Expected.Status >= 400 {
				continue
			}
			require.NotContains(t, body, "badge", "%s %s", file, c.Name)
			require.NotContains(t, body, "extras", "%s %s", file, c.Name)
		}
	}
	require.Contains(t, names["notes.create.test.yaml"], "badge_unknown_reference", "a link's own constraints are still checked")
	require.Contains(t, names["notes.create.test.yaml"], "extras_unknown_reference")
	for _, c := range []string{"badge_taken", "unique_index_1_taken"} {
		require.NotContains(t, names["notes.create.test.yaml"], c, "a null badge clashes with nothing")
		require.NotContains(t, names["notes.update.test.yaml"], c, "a null badge clashes with nothing")
	}
	require.NotContains(t, names["notes.update.test.yaml"], "second_record", "no unique case needs a second record")
	require.NotContains(t, names["notes.view.test.yaml"], "view_expanding_badge")
	require.NotContains(t, names["notes.view.test.yaml"], "view_expanding_extras")
	require.NotContains(t, files["notes.list.test.yaml"], "filter=badge")
	require.NotContains(t, names["shelves.view.test.yaml"], "view_expanding_award")
	require.Contains(t, names["shelves.view.test.yaml"], "view_expanding_note", "a link to a derivable resource stays")
	require.Contains(t, files["shelves.create.test.yaml"], "setup_notes:")
	require.NotContains(t, files["shelves.create.test.yaml"], "setup_awards")
	require.Contains(t, files["tasks.create.test.yaml"], "setup_projects:", "the cycle's links stay")
	require.Contains(t, files["projects.create.test.yaml"], "setup_tasks:")
	require.Contains(t, files["projects.create.test.yaml"], "setup_projects:",
		"a task requires a project: one is made, without its main task, before the body the cases vary")
}

// A required link to a resource that cannot be made keeps the resource from being derived,
// and the reason names the link and its target — through a chain of required links too.
func TestRequiredLinksToUnderivableTargetsAreGaps(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/links.yaml")
	files := fileTexts(suite)
	awards := "the required relation awards.badge refers to badges, which cannot be made: no role may create badges"
	for _, action := range []string{"create", "view", "list", "update", "delete"} {
		require.Contains(t, suite.Gaps, fmt.Sprintf("awards %s: %s", action, awards))
		require.Contains(t, suite.Gaps, fmt.Sprintf("racks %s: the required relation racks.award refers to awards, which cannot be made: %s",
			action, awards))
		require.NotContains(t, files, "awards."+action+".test.yaml")
		require.NotContains(t, files, "racks."+action+".test.yaml")
	}
	require.Contains(t, suite.Gaps, "badges create: no role may create badges")
	require.Len(t, suite.Gaps, 15, "badges, awards and racks: five files each")
}
