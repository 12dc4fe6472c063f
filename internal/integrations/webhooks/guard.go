package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln/internal/netpolicy"
)

// ErrForbiddenAddress means a URL leads to an address deliveries may not reach (loopback,
// private, link-local, unique-local, CGNAT, metadata…) and the spec does not allow it.
var ErrForbiddenAddress = errors.New("the address is not allowed for webhooks")

// Guard decides which addresses deliveries may reach. It checks the address a connection
// is about to use (after DNS resolution, for every redirect and every new connection), so
// neither a name resolving to an internal address nor DNS rebinding gets through.
type Guard struct {
	allow    []netip.Prefix
	resolver Resolver
}

// NewGuard refuses every non-public address except those in allow; names are resolved
// with resolver (net.DefaultResolver when nil).
func NewGuard(allow []netip.Prefix, resolver Resolver) *Guard {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return &Guard{allow: allow, resolver: resolver}
}

// Allowed reports whether a delivery may connect to ip (netpolicy.Allowed).
func (g *Guard) Allowed(ip netip.Addr) bool { return netpolicy.Allowed(ip, g.allow) }

// control runs just before each connect with the resolved address: the one check that
// DNS answers cannot dodge.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbiddenAddress, address)
	}
	if !g.Allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// dialer resolves a name itself (through the injected resolver) and dials its addresses
// one by one; Control checks each just before connecting.
func (g *Guard) dialer(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return d.DialContext(ctx, network, addr)
		}
		ips, err := g.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, ip := range ips {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

// maxRedirects bounds how many redirects a delivery follows.
const maxRedirects = 5

// Client is an HTTP client whose every connection passes the guard. No proxy is used: a
// proxy would connect on the client's behalf, out of the guard's sight.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: g.control}
	tr := &http.Transport{Proxy: nil, DialContext: g.dialer(d), ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: g.checkRedirect}
}

// checkRedirect refuses a redirect to another scheme or to a literal address the guard
// refuses (names are checked when the redirect's connection is made).
func (g *Guard) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if req.Method != via[0].Method {
		// A 301, 302 or 303 turns the POST into a GET without the body: followed, the event
		// never arrived and the delivery was recorded as a success. The redirect's own answer
		// is the attempt's (not a 2xx: tried again, then failed); 307 and 308 keep the POST.
		return http.ErrUseLastResponse
	}
	return g.checkLiteral(req.URL)
}

func (g *Guard) checkLiteral(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q", ErrForbiddenAddress, u.Scheme)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !g.Allowed(ip) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	return nil
}

// Resolver looks up a host's addresses (net.DefaultResolver).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// CheckURL refuses, when a subscription is made, a URL that is not http(s) or whose host
// is or resolves to a refused address. A name that does not resolve yet is accepted: the
// connection-time check still applies.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: not an absolute URL", ErrForbiddenAddress)
	}
	if err := g.checkLiteral(u); err != nil {
		return err
	}
	if _, err := netip.ParseAddr(u.Hostname()); err == nil {
		return nil
	}
	ips, err := g.resolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil {
		return nil
	}
	for _, ip := range ips {
		if !g.Allowed(ip) {
			return fmt.Errorf("%w: %s resolves to %s", ErrForbiddenAddress, u.Hostname(), ip)
		}
	}
	return nil
}

func mustURL(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		return &url.URL{}
	}
	return u
}
