package events

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWidenPlacesABackendsTransactionIDInItsEpoch(t *testing.T) {
	t.Parallel()
	const epoch = int64(1) << 32
	require.Equal(t, epoch+5, widen(epoch+10, 5))
	require.Equal(t, epoch+20, widen(epoch+10, 20), "running ahead of the snapshot's xmax")
	require.Equal(t, int64(0xFFFFFFF0), widen(epoch+5, 0xFFFFFFF0), "from before the epoch turned")
	require.Equal(t, epoch+5, widen(0xFFFFFFF0, 5), "after the epoch turned")
}

// An event id is safe once the oldest running transaction is past every transaction id given
// out when that id was seen: not before, however many looks come between.
func TestHorizonMakesAnIDSafeOnceEveryEarlierTransactionEnded(t *testing.T) {
	t.Parallel()
	h := NewHorizon()
	require.Equal(t, int64(0), h.Advance(Observation{Xmin: 100, Next: 105, Last: 7}), "transactions 100–104 may hold ids up to 7")
	require.Equal(t, int64(0), h.Advance(Observation{Xmin: 104, Next: 110, Last: 9}), "104 still runs")
	require.Equal(t, int64(7), h.Advance(Observation{Xmin: 106, Next: 110, Last: 9}), "every transaction before 105 ended")
	require.Equal(t, int64(9), h.Advance(Observation{Xmin: 110, Next: 110, Last: 9}), "nothing runs")
	require.Equal(t, int64(9), h.Advance(Observation{Xmin: 110, Next: 120, Last: 9}), "the safe id never goes back")
	require.Equal(t, int64(12), h.Advance(Observation{Xmin: 125, Next: 125, Last: 12}))
}

// While a long transaction holds the oldest one back, the looks kept stay bounded, and once it
// ends the last id seen becomes safe.
func TestHorizonKeepsFewLooksBehindALongTransaction(t *testing.T) {
	t.Parallel()
	h := NewHorizon()
	for i := range int64(10 * maxMarks) {
		require.Equal(t, int64(0), h.Advance(Observation{Xmin: 50, Next: 100 + i, Last: 1 + i}))
		require.LessOrEqual(t, len(h.marks), maxMarks)
	}
	last := int64(10 * maxMarks)
	require.Equal(t, last, h.Advance(Observation{Xmin: 100 + last + 1, Next: 100 + last + 1, Last: last}))
}
