package derive

// MemberNotesSpec is exists_test.go's spec, for the run tests of package derive_test.
const MemberNotesSpec = memberNotesSpec
