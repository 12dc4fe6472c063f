package derive_test

import "testing"

// Rules reading an account's fields (testdata/reviews.yaml): the drafts' optional reviewer,
// who must be an editor, is left out of every body, and notes, whose author (the creator by
// default) must be of the note's team, are printed as not derived with the pins that require
// one. The rest of the suite passes on both dialects: before, the rules refused create_valid
// and every case after it failed (a new user's help desk).
func TestDerivedSuiteOfRulesReadingAccountsPasses(t *testing.T) {
	why := "its rule author_in_team reads team of the members account author refers to (by default the creating account), which the suite's test accounts (writer, nothing else set) do not meet"
	var gaps []string
	for _, action := range []string{"list", "view", "create", "update", "delete"} {
		gaps = append(gaps, "notes "+action+": "+why)
	}
	for _, action := range []string{"list", "view", "create", "update", "delete"} {
		gaps = append(gaps, "pins "+action+": the required relation pins.note refers to notes, which cannot be made: "+why)
	}
	runWithGaps(t, "testdata/reviews.yaml", gaps)
}
