package events

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func look(last int64, writers ...string) Observation {
	return Observation{Last: last, Writers: writers}
}

// An event id is safe once every transaction that was writing events when it was seen has
// ended: not before, however many looks come between; later writers hold nothing back.
func TestHorizonMakesAnIDSafeOnceItsWritersEnded(t *testing.T) {
	t.Parallel()
	h := NewHorizon()
	require.Equal(t, int64(0), h.Advance(look(7, "3/10", "4/20")), "3/10 and 4/20 may hold ids up to 7")
	require.Equal(t, int64(0), h.Advance(look(9, "4/20", "5/30")), "4/20 still writes")
	require.Equal(t, int64(7), h.Advance(look(9, "5/30", "6/40")), "both ended; 5/30 came after 7 was seen")
	require.Equal(t, int64(9), h.Advance(look(9, "6/40")), "5/30 ended: 9 too (6/40 began after it was seen)")
	require.Equal(t, int64(11), h.Advance(look(11)), "nobody writes")
	require.Equal(t, int64(11), h.Advance(look(11, "7/50")), "the safe id never goes back")
}

// A later look whose writers all ended makes its id safe even while an earlier look's writer
// runs on: every id up to the later one's last was drawn before it, by its writers or by
// transactions that had ended.
func TestHorizonSkipsToTheLatestLookItCan(t *testing.T) {
	t.Parallel()
	h := NewHorizon()
	require.Equal(t, int64(0), h.Advance(look(5, "1/1")))
	require.Equal(t, int64(0), h.Advance(look(8, "1/1", "2/2")))
	require.Equal(t, int64(0), h.Advance(look(9, "1/1", "2/2")))
	require.Equal(t, int64(5), h.Advance(look(9, "2/2")), "1/1 ended: 5 is safe; 8 and 9 wait for 2/2")
	require.Equal(t, int64(9), h.Advance(look(12, "3/3")), "both ended")
	require.Len(t, h.marks, 1, "the look that saw 12 waits for 3/3")
}

// While a long transaction writes events, the looks kept stay bounded, and once it ends the
// last id seen becomes safe.
func TestHorizonKeepsFewLooksBehindALongTransaction(t *testing.T) {
	t.Parallel()
	h := NewHorizon()
	for i := range int64(10 * maxMarks) {
		require.Equal(t, int64(0), h.Advance(look(1+i, "1/1")))
		require.LessOrEqual(t, len(h.marks), maxMarks)
	}
	last := int64(10 * maxMarks)
	require.Equal(t, last, h.Advance(look(last)))
}

// A transaction that prepares (two-phase commit) holds its locks under a new virtual id: while
// any prepared transaction writes, nothing becomes safe.
func TestHorizonWaitsWhileAPreparedTransactionWrites(t *testing.T) {
	t.Parallel()
	h := NewHorizon()
	require.Equal(t, int64(0), h.Advance(look(7, "3/10")))
	require.Equal(t, int64(0), h.Advance(look(7, "-1/900")), "3/10 prepared: it has not ended")
	require.Equal(t, int64(7), h.Advance(look(7)), "committed or rolled back")
}

func TestAnyOfSortedLists(t *testing.T) {
	t.Parallel()
	require.False(t, anyOf(nil, []string{"1/1"}))
	require.False(t, anyOf([]string{"1/1", "3/3"}, []string{"2/2", "4/4"}))
	require.True(t, anyOf([]string{"1/1", "3/3"}, []string{"2/2", "3/3"}))
}
