package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The failed-login budget (10 per 15 minutes per email, docs/auth.md) holds for guesses sent
// at once: each login checks the budget before it verifies the password and counts its
// failure only after, so every guess of a burst passed the check before any failure was
// counted, and each was verified — a burst of 40 guessed 40 passwords.
func TestFailedLoginBudgetHoldsForConcurrentGuesses(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		require.Equal(t, http.StatusCreated, b.anon("POST", "/api/auth/signup", map[string]any{"email": "victim@example.com", "password": "right password"}).status)
		counts := statusCounts(40, func(i int) int {
			return b.anon("POST", "/api/auth/login", map[string]any{"email": "victim@example.com", "password": "wrong guess " + string(rune('a'+i%26))}).status
		})
		require.LessOrEqual(t, counts[http.StatusUnauthorized], 10, "guesses verified: %v", counts)
	})
}
