package scaleout_test

import (
	"net/http"
	"strings"
	"time"

	"github.com/stretchr/testify/require"
)

// allowed sends n requests of a fresh account round-robin over the instances and counts the
// ones let through.
func (c *cluster) allowed(n int) int {
	c.t.Helper()
	access, _, _ := c.signup(0)
	ok := 0
	for i := range n {
		r := c.call(i, "GET", "/api/products?limit=1", access, nil)
		require.Contains(c.t, []int{http.StatusOK, http.StatusTooManyRequests}, r.status)
		if r.status == http.StatusOK {
			ok++
		}
	}
	return ok
}

// With Redis, the instances share one bucket per account: the limit holds across them exactly.
func (c *cluster) checkSharedLimits(phase string) {
	c.t.Helper()
	got := c.allowed(clusterSize * (accountLimit + 1))
	c.t.Logf("%s: %d of %d requests of one account let through (limit %d, shared)", phase, got, clusterSize*(accountLimit+1), accountLimit)
	require.Equal(c.t, accountLimit, got, "%s: one shared bucket", phase)
}

// Without Redis, each instance limits on its own: at most N × the limit (docs/scaling.md).
func (c *cluster) checkLocalLimits(phase string) {
	c.t.Helper()
	got := c.allowed(clusterSize * (accountLimit + 1))
	c.t.Logf("%s: %d of %d requests of one account let through (limit %d per instance)", phase, got, clusterSize*(accountLimit+1), accountLimit)
	require.Equal(c.t, clusterSize*accountLimit, got, "%s: every instance enforces the limit itself", phase)
}

// Login back-off holds with Redis out: the 11th wrong password on an instance is refused.
func (c *cluster) checkLoginBackOff() {
	c.t.Helper()
	_, _, email := c.signup(1)
	for i := range 10 {
		r := c.call(1, "POST", "/api/auth/login", "", map[string]any{"email": email, "password": "wrong password"})
		require.Equal(c.t, http.StatusUnauthorized, r.status, "wrong password %d", i+1)
	}
	r := c.call(1, "POST", "/api/auth/login", "", map[string]any{"email": email, "password": "wrong password"})
	require.Equal(c.t, http.StatusTooManyRequests, r.status, "the 11th wrong password is refused")
	require.NotEmpty(c.t, r.header.Get("Retry-After"))
}

// A logout on one instance reaches every other within the bound; so does an operator's
// `kiln users disable`, run as a process of its own.
func (c *cluster) checkRevocation(phase string) {
	c.t.Helper()
	access, refresh, email := c.signup(0)
	for i := range c.urls {
		require.Equal(c.t, http.StatusOK, c.call(i, "GET", "/api/auth/me", access, nil).status)
	}
	require.Equal(c.t, http.StatusNoContent, c.call(0, "POST", "/api/auth/logout", "", map[string]any{"refresh_token": refresh}).status)
	c.t.Logf("%s: logout reached every instance in %s", phase, c.refusedEverywhere(access))

	access, _, email = c.signup(2)
	disable := startKiln(c.t, "users-disable", c.env, "users", "disable", "--spec", shopSpec, "--migrations", c.migrations,
		"--data-dir", c.t.TempDir(), "--email", email)
	require.NoError(c.t, disable.wait(60*time.Second), disable.out.String())
	c.t.Logf("%s: `kiln users disable` reached every instance in %s", phase, c.refusedEverywhere(access))
}

// refusedEverywhere waits until every instance refuses access and returns how long it took.
func (c *cluster) refusedEverywhere(access string) time.Duration {
	c.t.Helper()
	start := time.Now()
	require.Eventually(c.t, func() bool {
		for i := range c.urls {
			if c.call(i, "GET", "/api/auth/me", access, nil).status != http.StatusUnauthorized {
				return false
			}
		}
		return true
	}, revocationBound, 5*time.Millisecond, "refused by every instance within %s", revocationBound)
	return time.Since(start)
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
