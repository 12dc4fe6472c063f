package derive_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/kilntest"
)

// violatedNearExamples: a rule's violated_by written against the examples, close to them
// (ends_at a day after the example starts_at breaks "at most 12 hours"; min_guests one above
// the example max_guests). create_valid's body and put_valid's record move every date by days
// and numbers up by units, so the value sent as written met a moved starts_at (the same
// instant: ends_before_start answered, not too_long) or a raised max_guests (no rule broken):
// the rule cases failed on create and on update.
const violatedNearExamples = `name: rooms
resources:
  bookings:
    fields:
      starts_at: {type: datetime, required: true, example: "2027-01-04T09:00:00Z"}
      ends_at: {type: datetime, required: true, example: "2027-01-04T11:00:00Z"}
      min_guests: {type: integer, min: 1, max: 1000, example: 2}
      max_guests: {type: integer, min: 1, max: 1000, example: 8}
    rules:
      - name: ends_after_start
        check: "record.ends_at > record.starts_at"
        fields: [ends_at]
        code: ends_before_start
        message: a booking ends after it starts
        violated_by: {ends_at: "2027-01-04T08:00:00Z"}
      - name: at_most_12h
        check: "record.ends_at - record.starts_at <= duration('12h')"
        fields: [ends_at]
        code: too_long
        message: at most 12 hours
        violated_by: {ends_at: "2027-01-05T09:00:00Z"}
      - name: guests_ordered
        check: "record.min_guests <= record.max_guests"
        fields: [min_guests]
        code: guests_unordered
        message: min above max
        violated_by: {min_guests: 9}
`

func TestViolatedByNearTheExamplesBreaksItsRule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte(violatedNearExamples), 0o644))
	testdb.EachDialectEnv(t, func(t *testing.T) {
		b := kilntest.New(t, path)
		suite, err := derive.Generate(b.App.Spec)
		require.NoError(t, err)
		var create, update string
		for _, f := range suite.Files {
			switch f.Name {
			case "bookings.create.test.yaml":
				create = string(f.Data)
			case "bookings.update.test.yaml":
				update = string(f.Data)
			}
		}
		// the rule's other fields go back to their examples beside the violating value
		i := strings.Index(create, "rule_at_most_12h_violated:")
		require.Positive(t, i)
		require.Contains(t, create[i:i+400], `starts_at: "2027-01-04T09:00:00Z"`)
		i = strings.Index(update, "rule_guests_ordered_violated:")
		require.Positive(t, i)
		require.Contains(t, update[i:i+300], "max_guests: 8")
		b.RunDerived(t) // fails on every gap and every failed case
	})
}
