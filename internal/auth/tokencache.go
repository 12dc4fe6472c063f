package auth

import (
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// verifiedCache remembers the access tokens Verify accepted, by their whole text, and the
// time window their claims hold in (not-before and issued-at, expiry, each widened by the
// leeway). Parsing a token — base64, JSON, the signature — is most of what an authenticated
// request spends on its bearer; a client sends the same token for every request of its
// lifetime. The key is the token's full text, signature included: the same text always
// verifies the same way with the same keys, so only the time checks are repeated on a hit.
// A token that never verified is never cached, and revocation is checked after Verify on
// every request (Accounts.Authenticate) as before.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[string]verified
}

type verified struct {
	claims      Claims
	from, until time.Time
}

// verifiedCacheSize bounds the entries; a full cache starts over (at most one parse per
// token per fill, and memory stays a few hundred KiB).
const verifiedCacheSize = 1024

func (c *verifiedCache) get(raw string, now time.Time) (*Claims, bool) {
	c.mu.RLock()
	v, ok := c.entries[raw]
	c.mu.RUnlock()
	if !ok || now.Before(v.from) || !now.Before(v.until) {
		return nil, false
	}
	claims := v.claims // the caller's own copy, slices too: the cached claims never change
	claims.Roles, claims.Audience = slices.Clone(claims.Roles), slices.Clone(claims.Audience)
	return &claims, true
}

func (c *verifiedCache) put(raw string, claims *Claims, leeway time.Duration) {
	if claims.ExpiresAt == nil {
		return
	}
	own := *claims
	own.Roles, own.Audience = slices.Clone(claims.Roles), slices.Clone(claims.Audience)
	v := verified{claims: own, until: claims.ExpiresAt.Add(leeway)}
	for _, d := range []*time.Time{timeOf(claims.IssuedAt), timeOf(claims.NotBefore)} {
		if d != nil && d.Add(-leeway).After(v.from) {
			v.from = d.Add(-leeway)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= verifiedCacheSize {
		c.entries = make(map[string]verified, 64)
	}
	c.entries[raw] = v
}

func timeOf(d *jwt.NumericDate) *time.Time {
	if d == nil {
		return nil
	}
	return &d.Time
}
