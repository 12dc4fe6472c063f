package derive_test

import "testing"

// A new user's applicant-tracking spec (testdata/ats.yaml): its applications' unique index on
// job and candidate, with a rule keeping job on update. The update file's taken-index case
// changed job to the second record's and was refused by the rule (400 job_fixed, not the 409
// it expected): now it is left out (TestTakenIndexCaseLeftOutWhereARuleKeepsItsField). The rest
// passes on both dialects.
func TestDerivedSuiteOfApplicantTrackingPasses(t *testing.T) {
	runWithGaps(t, "testdata/ats.yaml", nil)
}
