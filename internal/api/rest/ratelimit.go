package rest

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/kiln-dev/kiln/internal/ratelimit"
	"github.com/kiln-dev/kiln/internal/service"
)

// limit spends one request of the budget that applies: the auth group's per address on auth
// endpoints, the account's when signed in, the address's otherwise. It writes the RateLimit
// headers and a 429 with Retry-After when the budget is spent, and reports whether to go on.
// A limiter that fails (Redis down) lets the request through: availability beats strictness.
func (h *Handler) limit(w http.ResponseWriter, r *http.Request, p *service.Principal, authGroup bool) bool {
	if h.limiter == nil {
		return true
	}
	key, pol := "ip:"+h.clientIP(r), &h.rates.anonymous
	switch {
	case authGroup:
		key, pol = "auth:"+h.clientIP(r), &h.rates.auth
	case p != nil && p.KeyID != "":
		key, pol = "key:"+p.KeyID, &h.rates.apiKey
	case p != nil:
		key, pol = "acct:"+p.ID, &h.rates.account
	}
	return h.spend(w, r, key, pol)
}

// spend takes one request from key's budget under pol (none when its limit is zero), writing
// the RateLimit headers, or the 429 with Retry-After when it is spent; it reports whether to go on.
func (h *Handler) spend(w http.ResponseWriter, r *http.Request, key string, pol *ratePolicy) bool {
	if h.limiter == nil || pol.lim.Requests == 0 {
		return true
	}
	res, err := h.limiter.Allow(r.Context(), key, pol.lim)
	if err != nil {
		h.log.WarnContext(r.Context(), "rate limiter unavailable", "request_id", RequestID(r.Context()))
		return true
	}
	reset := int(math.Ceil(res.Reset.Seconds()))
	if !pol.unsaid {
		pol.setHeaders(w.Header(), res.Remaining, reset)
	}
	if !res.Allowed {
		WriteError(w, r, h.log, &service.Error{Code: service.CodeRateLimited, Message: "too many requests: slow down", RetryAfter: reset})
		return false
	}
	return true
}

// clientIP is the peer address, or — when the peer is a trusted proxy — the right-most
// X-Forwarded-For entry that is not itself a trusted proxy.
func (h *Handler) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !h.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			break // a malformed entry: stop believing the chain
		}
		if !h.trusted(hop) {
			return hop
		}
		host = hop
	}
	return host
}

func (h *Handler) trusted(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range h.spec.Server.TrustedProxies {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

var _ ratelimit.Limiter = (*ratelimit.Memory)(nil)
