package rest

import (
	"math"
	"net/http"
	"strconv"

	"github.com/kiln-dev/kiln/internal/ratelimit"
	"github.com/kiln-dev/kiln/internal/spec"
)

// ratePolicy is one budget of the spec's rate_limits under the name its answers give it, in the
// two fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers-08 and later):
//
//	RateLimit-Policy: "anonymous";q=60;w=60
//	RateLimit: "anonymous";r=59;t=42
//
// The policy's value is built once; only RateLimit changes from answer to answer.
type ratePolicy struct {
	name   string
	lim    ratelimit.Limit
	policy []string // the RateLimit-Policy value, shared by every answer (never changed in place)
	// unsaid: answers carry no RateLimit fields for this budget. The per-email reset budget
	// is keyed by an address anyone may type, so its count would tell anyone how many resets
	// were asked for that address this hour; the answer names the per-client one instead.
	unsaid bool
}

// ratePolicies are the spec's budgets, each under its rate_limits key.
type ratePolicies struct {
	anonymous, account, apiKey, auth, passwordReset, passwordResetEmail ratePolicy
}

func newRatePolicies(rl spec.RateLimits) ratePolicies {
	apiKey := rl.APIKey
	if apiKey.Requests == 0 {
		apiKey = rl.Account
	}
	return ratePolicies{
		anonymous:          newRatePolicy("anonymous", rl.Anonymous),
		account:            newRatePolicy("account", rl.Account),
		apiKey:             newRatePolicy("api_key", apiKey),
		auth:               newRatePolicy("auth", rl.Auth),
		passwordReset:      newRatePolicy("password_reset", rl.PasswordReset),
		passwordResetEmail: ratePolicy{name: "password_reset_email", lim: rl.PasswordResetEmail, unsaid: true},
	}
}

func newRatePolicy(name string, lim ratelimit.Limit) ratePolicy {
	window := max(int64(math.Ceil(lim.Window.Seconds())), 1)
	v := strconv.Quote(name) + ";q=" + strconv.Itoa(lim.Requests) + ";w=" + strconv.FormatInt(window, 10)
	return ratePolicy{name: name, lim: lim, policy: []string{v}}
}

// setHeaders writes RateLimit-Policy and RateLimit under the canonical keys Header.Set would
// store them under, without its per-call rewrite: two entries, so that with the other headers
// every answer carries the header map stays within its first group of eight.
func (p *ratePolicy) setHeaders(hd http.Header, remaining, reset int) {
	var buf [96]byte
	b := strconv.AppendQuote(buf[:0], p.name)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(max(remaining, 0)), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, int64(max(reset, 0)), 10)
	hd["Ratelimit-Policy"] = p.policy
	hd["Ratelimit"] = []string{string(b)}
}
