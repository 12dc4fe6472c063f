package derive

// MemberNotesSpec is exists_test.go's spec of notes, for the run tests of package derive_test.
const MemberNotesSpec = memberNotesSpec

// PetVisitsSpec is exists_test.go's spec of visits to pets, for the run tests.
const PetVisitsSpec = petVisitsSpec

// VisitsNeedAMember is exists_test.go's visitsNeedAMember, for the run tests.
var VisitsNeedAMember = visitsNeedAMember
