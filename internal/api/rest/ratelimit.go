package rest

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
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
	rl := h.spec.Server.RateLimits
	key, lim := "ip:"+h.clientIP(r), rl.Anonymous
	switch {
	case authGroup:
		key, lim = "auth:"+h.clientIP(r), rl.Auth
	case p != nil && p.KeyID != "":
		key, lim = "key:"+p.KeyID, rl.APIKey
		if lim.Requests == 0 {
			lim = rl.Account
		}
	case p != nil:
		key, lim = "acct:"+p.ID, rl.Account
	}
	return h.spend(w, r, key, lim)
}

// spend takes one request from key's budget lim (none when lim is zero), writing the
// RateLimit headers, or the 429 with Retry-After when it is spent; it reports whether to go on.
func (h *Handler) spend(w http.ResponseWriter, r *http.Request, key string, lim ratelimit.Limit) bool {
	if h.limiter == nil || lim.Requests == 0 {
		return true
	}
	res, err := h.limiter.Allow(r.Context(), key, lim)
	if err != nil {
		h.log.WarnContext(r.Context(), "rate limiter unavailable", "request_id", RequestID(r.Context()))
		return true
	}
	reset := int(math.Ceil(res.Reset.Seconds()))
	setRateHeaders(w.Header(), res.Limit, res.Remaining, reset)
	if !res.Allowed {
		WriteError(w, r, h.log, &service.Error{Code: service.CodeRateLimited, Message: "too many requests: slow down", RetryAfter: reset})
		return false
	}
	return true
}

// setRateHeaders writes the three RateLimit headers under the canonical keys Header.Set would
// store them under, without its per-call rewrite. The three numbers share one string and the
// three values one array (two allocations, not six, on every request): a value slice is never
// changed in place by net/http or Header's methods (Set replaces it, Add appends to a full one).
func setRateHeaders(hd http.Header, limit, remaining, reset int) {
	var buf [3 * 20]byte
	b := strconv.AppendInt(buf[:0], int64(limit), 10)
	i := len(b)
	b = strconv.AppendInt(b, int64(remaining), 10)
	j := len(b)
	b = strconv.AppendInt(b, int64(reset), 10)
	nums := string(b)
	vals := make([]string, 3)
	vals[0], vals[1], vals[2] = nums[:i], nums[i:j], nums[j:]
	hd["Ratelimit-Limit"] = vals[0:1:1]
	hd["Ratelimit-Remaining"] = vals[1:2:2]
	hd["Ratelimit-Reset"] = vals[2:3:3]
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
