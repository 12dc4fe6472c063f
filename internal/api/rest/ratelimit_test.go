package rest

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
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

// The three RateLimit values share one array and one string: changing one header through
// Header's methods leaves the other two as they were.
func TestRateHeadersShareNothingVisible(t *testing.T) {
	t.Parallel()
	hd := http.Header{}
	setRateHeaders(hd, 1000000000, 999999999, 60)
	require.Equal(t, "1000000000", hd.Get("RateLimit-Limit"))
	require.Equal(t, "999999999", hd.Get("RateLimit-Remaining"))
	require.Equal(t, "60", hd.Get("RateLimit-Reset"))
	hd.Add("RateLimit-Limit", "5")
	hd.Set("RateLimit-Reset", "7")
	require.Equal(t, []string{"1000000000", "5"}, hd.Values("RateLimit-Limit"))
	require.Equal(t, []string{"999999999"}, hd.Values("RateLimit-Remaining"))
	require.Equal(t, []string{"7"}, hd.Values("RateLimit-Reset"))
	setRateHeaders(hd, 0, 0, 0)
	require.Equal(t, []string{"0"}, hd.Values("RateLimit-Limit"))
}
