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

// A role whose action rule selects its own records (drop: "auth.role == 'admin' ||
// record.student == auth.id") runs the action on a record it made as its own, also when it may
// create only its own records (create: "... auth.role == 'student' && record.student ==
// auth.id"): such roles got no own-record action cases at all. Where the rule selects records
// through what another role makes (approve: record.section.teacher), it gets none.
func TestOwnRecordActionCasesForRolesMakingOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/school.yaml")
	drop := casesOf(t, suite, "enrollments.drop.test.yaml")
	require.Equal(t, "student", drop["owned_by_student"].As)
	require.Equal(t, "/api/enrollments/{owned_by_student.response.id}/drop", drop["own_record_as_student"].Request.Path)
	require.Equal(t, 200, drop["own_record_as_student"].Expected.Status)
	require.Equal(t, "student:other", drop["other_account_as_student"].As)
	require.Equal(t, 404, drop["other_account_as_student"].Expected.Status)
	for _, file := range []string{"enrollments.approve.test.yaml", "enrollments.reject.test.yaml"} {
		cases := casesOf(t, suite, file)
		require.NotContains(t, cases, "own_record_as_student", file)
		require.NotContains(t, cases, "owned_by_student", file)
	}
}
