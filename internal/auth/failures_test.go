package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An email is refused after 10 failures in 15 minutes; its address only after 100, so one
// account guessed at does not lock everyone behind the same address out (a new user's trial
// found every login from 127.0.0.1 refused for 12 minutes after one account's ten failures).
// Failures spread over many emails from one address are still held back at 100.
func TestFailedLoginsBackOffPerEmailAndMoreLooselyPerAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	f := newFailures(func() time.Time { return now })
	failAs := func(email string) int {
		if wait := f.begin(ctx, email, "10.0.0.1"); wait > 0 {
			return wait
		}
		f.fail(ctx, email, "10.0.0.1")
		return 0
	}
	for i := 0; i < maxFailures; i++ {
		require.Zero(t, failAs("victim@example.com"), "failure %d", i)
	}
	require.Equal(t, int(failureWindow.Seconds())+1, f.begin(ctx, "victim@example.com", "10.0.0.1"), "the email is refused")
	require.Zero(t, f.begin(ctx, "colleague@example.com", "10.0.0.1"), "another account behind the same address is not")
	f.succeed(ctx, "colleague@example.com", "10.0.0.1")

	for i := maxFailures; i < maxAddressFailures; i++ {
		require.Zero(t, failAs(fmt.Sprintf("user%d@example.com", i)), "failure %d from the address", i)
	}
	require.Positive(t, f.begin(ctx, "someone-else@example.com", "10.0.0.1"), "100 failures from one address hold it back")
	require.Zero(t, f.begin(ctx, "someone-else@example.com", "10.0.0.2"), "another address is not")
	now = now.Add(failureWindow + time.Second)
	require.Zero(t, f.begin(ctx, "victim@example.com", "10.0.0.1"), "the window passed")
}
