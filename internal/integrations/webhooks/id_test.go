package webhooks

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Another database numbers its events and subscriptions alike (a second deployment, a reset,
// a staging copy): a trial's receiver, de-duplicating on webhook-id, would have dropped the
// second deployment's msg_21_1. A message's id carries 48 random bits besides.
func TestMessageIDsDifferAcrossDatabases(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := messageID(21, 1)
		require.Regexp(t, `^msg_21_1_[0-9a-f]{12}$`, id)
		require.False(t, seen[id], id)
		seen[id] = true
	}
}
