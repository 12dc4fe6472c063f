package derive

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// testdata/school.yaml: a student may update the enrollments of sections it teaches
// (update: "auth.role == 'admin' || record.section.teacher == auth.id"), not its own. The
// enrollment a student makes, in a section an admin made, is no record that rule selects: the
// suite expected its PATCH to pass (200, and three not_allowed 400s) where a correct server
// answers 404. It now leaves those cases out; the view rule (record.student == auth.id) still
// selects it.
func TestOwnRecordCasesOnlyWhereTheRuleSelectsIt(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/school.yaml")
	require.Empty(t, suite.Gaps)
	update := casesOf(t, suite, "enrollments.update.test.yaml")
	for _, name := range []string{"owned_by_student", "own_record_as_student", "own_record_of_another_student",
		"grade_not_writable_on_own_record_as_student", "student_not_writable_on_own_record_as_student"} {
		require.NotContains(t, update, name)
	}
	require.Equal(t, 404, update["other_accounts_record_as_student"].Expected.Status)
	require.Equal(t, 404, update["other_accounts_record_put_as_student"].Expected.Status)
	view := casesOf(t, suite, "enrollments.view.test.yaml")
	require.Equal(t, 200, view["own_record_as_student"].Expected.Status, "the view rule selects a student's own")
	require.Equal(t, 404, view["own_record_of_another_student"].Expected.Status)
}
