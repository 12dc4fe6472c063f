package webhooks

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// counter is a message's count of attempts as the database keeps it: claim is the conditional
// increment, reserve a replay's increment.
type counter struct{ n int }

func (c *counter) claim(seen int) bool {
	if c.n != seen {
		return false
	}
	c.n++
	return true
}

func (c *counter) reserve() deliverArgs {
	c.n++
	return deliverArgs{From: c.n, Reserved: true}
}

// attempt is a chain's attempt n: it loads the count at load, then decides, then claims at
// what it loaded (after the interleaved steps in between); it reports whether it sends.
func (c *counter) attempt(a deliverArgs, n, loaded int) bool {
	goAhead, claim := turn(a, n, loaded)
	if goAhead && claim {
		return c.claim(loaded)
	}
	return goAhead
}

// A replay landing between an older chain's final attempt loading the message and claiming it
// is not lost: the older attempt stands down, the replay sends. (Before replays counted an
// attempt, the older one claimed and sent, and the replay, finding the count moved past its
// own, stood down: when that last attempt failed, the message stayed failed.)
func TestReplayBetweenAnAttemptsLoadAndClaimIsNotLost(t *testing.T) {
	t.Parallel()
	c := &counter{n: 2} // the first chain made attempts 1 and 2
	first := deliverArgs{}
	loaded := c.n // its attempt 3, the last, loads the message
	replay := c.reserve()
	require.False(t, c.attempt(first, 3, loaded), "the older chain stands down")
	require.True(t, c.attempt(replay, 1, c.n), "the replay sends")
	require.Equal(t, 3, c.n)
}

func TestTurnOfChains(t *testing.T) {
	t.Parallel()
	t.Run("a first chain claims each attempt", func(t *testing.T) {
		c := &counter{}
		for n := 1; n <= 3; n++ {
			require.True(t, c.attempt(deliverArgs{}, n, c.n))
		}
		require.Equal(t, 3, c.n)
	})
	t.Run("a replay while the first chain waits for a retry", func(t *testing.T) {
		c := &counter{n: 1}
		replay := c.reserve()
		require.True(t, c.attempt(replay, 1, c.n))
		require.False(t, c.attempt(deliverArgs{}, 2, c.n), "the waiting retry stands down")
		require.True(t, c.attempt(replay, 2, c.n), "the replay's own retry claims")
		require.True(t, c.attempt(replay, 3, c.n))
		require.Equal(t, 4, c.n)
	})
	t.Run("a replay whose first attempt never ran retries", func(t *testing.T) {
		c := &counter{n: 3}
		replay := c.reserve()
		require.True(t, c.attempt(replay, 2, c.n))
		require.Equal(t, 5, c.n)
	})
	t.Run("replays landing before any runs: the last sends", func(t *testing.T) {
		c := &counter{n: 1}
		var replays []deliverArgs
		for range 8 {
			replays = append(replays, c.reserve())
		}
		sent := 0
		for i := len(replays) - 1; i >= 0; i-- { // any order
			for n := 1; n <= 3; n++ {
				if c.attempt(replays[i], n, c.n) {
					sent++
				}
			}
		}
		require.Equal(t, 3, sent, "the last replay's chain, each of its attempts")
	})
	t.Run("a replay after another's first attempt ran: both send", func(t *testing.T) {
		c := &counter{n: 1}
		r1 := c.reserve()
		require.True(t, c.attempt(r1, 1, c.n))
		r2 := c.reserve()
		require.True(t, c.attempt(r2, 1, c.n))
		require.False(t, c.attempt(r1, 2, c.n), "the earlier replay's retry stands down")
	})
}
