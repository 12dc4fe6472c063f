package derive

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

// reviewsNoteGap is why notes (their author, defaulting to the creating account, must be of the
// note's team) are not derived in testdata/reviews.yaml.
const reviewsNoteGap = "its rule author_in_team reads team of the members account author refers to (by default the creating account), which the suite's test accounts (writer, nothing else set) do not meet"

// An optional relation to an account whose role a rule reads (the reviewer must be an editor)
// is left out of every body: the suite's test accounts are writers, and the rule holds without
// the link (has(record.reviewer)). Before, create_valid linked a writer, was refused (400
// not_an_editor) and every case after it failed on the missing id (a new user's help desk).
func TestOptionalAccountLinkARuleReadsIsLeftOut(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/reviews.yaml")
	for _, file := range []string{"drafts.create.test.yaml", "drafts.update.test.yaml", "drafts.view.test.yaml", "drafts.list.test.yaml"} {
		for name, c := range casesOf(t, suite, file) {
			b, _ := c.Request.Body.(map[string]any)
			if strings.HasPrefix(name, "reviewer_") {
				continue // the reviewer's own type and reference cases send it, to be refused
			}
			require.NotContains(t, b, "reviewer", file+" "+name)
		}
	}
	for _, gap := range suite.Gaps {
		require.NotContains(t, gap, "drafts", "drafts are derived")
	}
}

// A create rule that reads a field of the creating account through a required relation
// defaulting to auth.id (the author must be of the note's team) cannot hold for the suite's
// test accounts, which belong to no team: notes are printed as not derived, naming the rule,
// and so are pins, which require a note. Before, every create answered "the rule cannot be
// computed" and every case after it failed.
func TestCreateRuleReadingTheCreatorsAccountIsNotDerived(t *testing.T) {
	t.Parallel()
	suite, files := deriveSpec(t, readFile(t, "testdata/reviews.yaml"))
	for _, action := range []string{"list", "view", "create", "update", "delete"} {
		require.Contains(t, suite.Gaps, "notes "+action+": "+reviewsNoteGap)
		require.Contains(t, suite.Gaps, "pins "+action+": the required relation pins.note refers to notes, which cannot be made: "+reviewsNoteGap)
	}
	for name := range files {
		require.False(t, strings.HasPrefix(name, "notes.") || strings.HasPrefix(name, "pins."), name)
	}
}

// A rule that names the default role keeps the link: a test account may meet it (tenants must
// be tenants, and the suite's accounts are), as testdata/rentals.yaml's leases show.
func TestAccountRoleRuleNamingTheDefaultRoleKeepsTheLink(t *testing.T) {
	t.Parallel()
	text := strings.ReplaceAll(readFile(t, "testdata/reviews.yaml"), "record.reviewer.role == 'editor'", "record.reviewer.role == 'writer'")
	suite, _ := deriveSpec(t, text)
	b, _ := casesOf(t, suite, "drafts.create.test.yaml")["create_valid"].Request.Body.(map[string]any)
	require.Contains(t, b, "reviewer")
	// the same rule through get() is read alike
	text = strings.ReplaceAll(text, "record.reviewer.role == 'writer'", "get('members', record.reviewer).role == 'editor'")
	suite, _ = deriveSpec(t, text)
	b, _ = casesOf(t, suite, "drafts.create.test.yaml")["create_valid"].Request.Body.(map[string]any)
	require.NotContains(t, b, "reviewer")
}

// A rule reading the creator's account directly (get('members', auth.id)) is not met either;
// without has() a left-out reviewer would break the rule, so drafts are not derived.
func TestCreateRuleReadingAuthIDAccountIsNotDerived(t *testing.T) {
	t.Parallel()
	text := strings.ReplaceAll(readFile(t, "testdata/reviews.yaml"), "!has(record.reviewer) || record.reviewer.role == 'editor'", "get('members', auth.id).team != null")
	suite, _ := deriveSpec(t, text)
	require.Contains(t, suite.Gaps, "drafts create: its rule reviewer_is_editor reads team of the creating members account (auth.id), which the suite's test accounts (writer, nothing else set) do not meet")
	text = strings.ReplaceAll(readFile(t, "testdata/reviews.yaml"), "!has(record.reviewer) || ", "")
	suite, _ = deriveSpec(t, text)
	require.Contains(t, suite.Gaps, "drafts create: its rule reviewer_is_editor reads role of the members account reviewer refers to, which the suite's test accounts (writer, nothing else set) do not meet")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

// Reads of an account's fields are found in the expression, not its text: a quoted text that
// looks like one reads nothing, and spacing and quotes do not matter.
func TestReadsOfAccountsByTheExpression(t *testing.T) {
	t.Parallel()
	s, err := spec.Load("testdata/reviews.yaml", spec.ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	notes := s.Resource("notes")
	for check, want := range map[string][]string{
		"get('members', record.author).team == record.team":                                                         {"author.team"},
		`get("members",record.author).team == record.team`:                                                          {"author.team"},
		"get('members', auth.id).team == record.team":                                                               {".team"},
		"record.author.team == record.team || record.body == 'x'":                                                   {"author.team"},
		"record.body != 'record.author.team'":                                                                       nil,
		"get('teams', record.team).title != ''":                                                                     nil,
		"has(record.author) && get('members', record.author).role == 'editor' && record.author.team == record.team": {"author.role", "author.team"},
	} {
		var got []string
		for _, rd := range readsOfAccounts(notes, "members", &spec.LogicRule{Check: spec.Expr{Text: check}}) {
			via := ""
			if rd.via != nil {
				via = rd.via.Name
			}
			got = append(got, via+"."+rd.field)
		}
		require.Equal(t, want, got, check)
	}
}
