package rest

import (
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
