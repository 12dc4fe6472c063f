package kiln_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unpinnedSpec: rules that count records by a filter that pins no to-one parent — a slot
// named by text, a global limit — so there is no parent row to lock.
const unpinnedSpec = `resources:
  bookings:
    fields:
      slot: {type: text, required: true}
    rules:
      - name: slot_free
        on: [create]
        check: "!exists('bookings', 'slot == record.slot')"
        code: slot_taken
        conflict: true
  seats:
    fields:
      name: {type: text}
    rules:
      - name: at_most_three
        on: [create]
        check: "count('seats', 'true') < 3"
        code: full
        conflict: true
`

// A rule that counts records is checked against the state it commits with (docs/logic.md
// "Race-free across records"), also when its filter pins no parent row to lock: of 16
// concurrent bookings of one slot one lands, and of 16 seats at most three.
func TestCountRulesWithoutAParentHoldUnderConcurrency(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, unpinnedSpec)
		for round := range 3 {
			slot := fmt.Sprintf("slot-%d", round)
			counts := statusCounts(16, func(int) int {
				return b.do("POST", "/api/bookings", map[string]any{"slot": slot}).status
			})
			assert.Equal(t, 1, counts[http.StatusCreated], "bookings of %s: %v", slot, counts)
		}
		counts := statusCounts(16, func(i int) int {
			return b.do("POST", "/api/seats", map[string]any{"name": fmt.Sprint(i)}).status
		})
		assert.Equal(t, 3, counts[http.StatusCreated], "seats: %v", counts)
		require.Equal(t, int64(3), b.count("seats"))
	})
}
