package derive

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFrozenFields(t *testing.T) {
	t.Parallel()
	for check, want := range map[string][]string{
		"record.job == old.job":                                     {"job"},
		"old.job == new.job && record.starts_at < record.ends_at":   {"job"},
		"has(record.x) && (record.a == old.a && old.b == record.b)": {"a", "b"},
		"record.job == old.job || auth.role == 'admin'":             nil, // not always: admins may
		"record.job != old.job":                                     nil,
		"record.job == old.other":                                   nil,
		"get('users', record.owner).org == old.org":                 nil,
		"record.job ==":                                             nil, // does not parse
	} {
		require.Equal(t, want, frozenFields(check), check)
	}
}

// An update cannot make a unique index's clash by changing a field a rule keeps (an
// application's job): the case is left out and named among what the suite does not cover; the
// create's clash, which no such rule refuses, stays.
func TestTakenIndexCaseLeftOutWhereARuleKeepsItsField(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/ats.yaml")
	require.NotContains(t, casesOf(t, suite, "applications.update.test.yaml"), "unique_index_1_taken")
	require.Contains(t, casesOf(t, suite, "applications.create.test.yaml"), "unique_index_1_taken")
	require.Contains(t, suite.Uncovered, "applications unique index 1 (job, candidate) taken on update: rule job_fixed keeps job unchanged")
}
