package rest

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/ratelimit"
	"github.com/kiln-dev/kiln/internal/spec"
)

func TestClientIPBelievesOnlyTrustedProxies(t *testing.T) {
	t.Parallel()
	s := shop(t)
	s.Server.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h := &Handler{spec: s}
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{remote: "203.0.113.9:1234", xff: "1.2.3.4", want: "203.0.113.9"},                       // untrusted peer: header ignored
		{remote: "10.0.0.5:1234", xff: "198.51.100.7", want: "198.51.100.7"},                    // trusted proxy
		{remote: "10.0.0.5:1234", xff: "1.2.3.4, 198.51.100.7, 10.0.0.6", want: "198.51.100.7"}, // right-most untrusted hop
		{remote: "10.0.0.5:1234", xff: "garbage", want: "10.0.0.5"},                             // malformed chain not believed
		{remote: "10.0.0.5:1234", xff: "", want: "10.0.0.5"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		require.Equal(t, tc.want, h.clientIP(r), "%+v", tc)
	}
}

// Each budget answers under its name: the policy (quota and window in seconds) shared by every
// answer, and what is left; changing one field through Header's methods leaves the other as it was.
func TestRateHeadersNameTheirBudget(t *testing.T) {
	t.Parallel()
	pols := newRatePolicies(spec.RateLimits{Anonymous: ratelimit.Limit{Requests: 60, Window: time.Minute},
		Account: ratelimit.Limit{Requests: 1000000000, Window: 90 * time.Second},
		Auth:    ratelimit.Limit{Requests: 10, Window: 1500 * time.Millisecond}})
	hd := http.Header{}
	pols.account.setHeaders(hd, 999999999, 60)
	require.Equal(t, []string{`"account";q=1000000000;w=90`}, hd.Values("RateLimit-Policy"))
	require.Equal(t, []string{`"account";r=999999999;t=60`}, hd.Values("RateLimit"))
	require.Equal(t, `"api_key";q=1000000000;w=90`, pols.apiKey.policy[0], "an API key without its own budget has the account's")
	require.Equal(t, `"auth";q=10;w=2`, pols.auth.policy[0], "a window of a fraction of seconds rounds up")
	hd.Add("RateLimit-Policy", "x")
	hd.Set("RateLimit", "y")
	require.Equal(t, `"account";q=1000000000;w=90`, pols.account.policy[0], "the shared policy value is never changed")
	pols.anonymous.setHeaders(hd, -1, 0)
	require.Equal(t, `"anonymous";r=0;t=0`, hd.Get("RateLimit"))
	require.Equal(t, []string{`"anonymous";q=60;w=60`}, hd.Values("RateLimit-Policy"))
}
