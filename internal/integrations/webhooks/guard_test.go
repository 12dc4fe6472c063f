package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGuardAllowed(t *testing.T) {
	t.Parallel()
	g := NewGuard([]netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}, nil)
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{ip: "93.184.215.14", want: true},
		{ip: "2606:4700::1111", want: true},
		{ip: "127.0.0.1"},
		{ip: "::1"},
		{ip: "10.0.0.1"},
		{ip: "10.9.1.2", want: true}, // allowed by the spec
		{ip: "172.16.0.1"},
		{ip: "192.168.1.1"},
		{ip: "169.254.169.254"},
		{ip: "fd00:ec2::254"},
		{ip: "fe80::1"},
		{ip: "100.64.0.1"},
		{ip: "0.0.0.0"},
		{ip: "::"},
		{ip: "::ffff:127.0.0.1"},
		{ip: "::ffff:169.254.169.254"},
		{ip: "64:ff9b::a00:1"},
		{ip: "2002:a00:1::"},
		{ip: "224.0.0.1"},
		{ip: "255.255.255.255"},
	} {
		require.Equal(t, tc.want, g.Allowed(netip.MustParseAddr(tc.ip)), tc.ip)
	}
}

// fakeResolver answers names from a map, and counts lookups (rebinding answers change).
type fakeResolver struct {
	answers map[string][]netip.Addr
	after   map[string][]netip.Addr // answers from the second lookup on
	seen    map[string]int
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.seen[host]++
	if a, ok := f.after[host]; ok && f.seen[host] > 1 {
		return a, nil
	}
	if a, ok := f.answers[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func newFake() *fakeResolver {
	return &fakeResolver{answers: map[string][]netip.Addr{}, after: map[string][]netip.Addr{}, seen: map[string]int{}}
}

func TestGuardClient(t *testing.T) {
	t.Parallel()
	type testBundle struct {
		srv *httptest.Server
		res *fakeResolver
	}
	setup := func(t *testing.T) *testBundle {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if to := r.URL.Query().Get("to"); to != "" {
				http.Redirect(w, r, to, http.StatusFound)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(srv.Close)
		return &testBundle{srv: srv, res: newFake()}
	}
	get := func(g *Guard, url string) error {
		res, err := g.Client(5 * time.Second).Get(url)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	loop := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

	t.Run("LoopbackRefusedUnlessAllowed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.ErrorIs(t, get(NewGuard(nil, b.res), b.srv.URL), ErrForbiddenAddress)
		require.NoError(t, get(NewGuard(loop, b.res), b.srv.URL))
	})
	t.Run("NameResolvingToLoopbackRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.res.answers["hooks.example"] = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		url := "http://hooks.example:" + b.srv.URL[len("http://127.0.0.1:"):]
		require.ErrorIs(t, get(NewGuard(nil, b.res), url), ErrForbiddenAddress)
		require.NoError(t, get(NewGuard(loop, b.res), url))
	})
	t.Run("SystemResolverLocalhostRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		url := "http://localhost:" + b.srv.URL[len("http://127.0.0.1:"):]
		require.ErrorIs(t, get(NewGuard(nil, nil), url), ErrForbiddenAddress)
	})
	t.Run("RedirectToMetadataRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		g := NewGuard(loop, b.res)
		require.ErrorIs(t, get(g, b.srv.URL+"/?to=http://169.254.169.254/latest/meta-data/"), ErrForbiddenAddress)
		require.ErrorIs(t, get(g, b.srv.URL+"/?to=http://[fd00:ec2::254]/"), ErrForbiddenAddress)
		require.ErrorIs(t, get(g, b.srv.URL+"/?to=http://10.1.2.3/"), ErrForbiddenAddress)
	})
	t.Run("RedirectToNameResolvingPrivateRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.res.answers["internal.example"] = []netip.Addr{netip.MustParseAddr("192.168.0.10")}
		err := get(NewGuard(loop, b.res), b.srv.URL+"/?to=http://internal.example/")
		require.ErrorIs(t, err, ErrForbiddenAddress)
	})
	t.Run("DNSRebindingRefusedAtConnect", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		g := NewGuard(nil, b.res)
		b.res.answers["rebind.example"] = []netip.Addr{netip.MustParseAddr("93.184.215.14")}
		b.res.after["rebind.example"] = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		port := b.srv.URL[len("http://127.0.0.1:"):]
		require.NoError(t, g.CheckURL(context.Background(), "http://rebind.example:"+port+"/"), "public when the subscription is made")
		require.ErrorIs(t, get(g, "http://rebind.example:"+port+"/"), ErrForbiddenAddress, "loopback when delivering")
	})
	t.Run("CheckURL", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		g := NewGuard(nil, b.res)
		b.res.answers["private.example"] = []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.5")}
		for _, u := range []string{"http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://10.0.0.1/hook", "https://private.example/", "ftp://example.com/", "http://127.0.0.1:8080/"} {
			require.ErrorIs(t, g.CheckURL(context.Background(), u), ErrForbiddenAddress, u)
		}
		require.NoError(t, g.CheckURL(context.Background(), "https://93.184.215.14/hook"))
	})
}
