package openapi

import "github.com/kiln-dev/kiln/internal/spec"

// rateLimitHeaders are the headers every rate-limited answer carries: the two fields of the
// IETF draft (draft-ietf-httpapi-ratelimit-headers-08 and later), Structured Field lists.
var rateLimitHeaders = map[string]obj{
	"RateLimit-Policy": {"description": "The budget that applies: its name, q requests per w seconds",
		"schema": obj{"type": "string"}, "example": `"anonymous";q=60;w=60`},
	"RateLimit": {"description": "What is left of it: r requests for t more seconds",
		"schema": obj{"type": "string"}, "example": `"anonymous";r=59;t=60`},
}

func rateLimited(s *spec.Spec) bool {
	rl := s.Server.RateLimits
	return rl.Anonymous.Requests > 0 || rl.Account.Requests > 0 || rl.APIKey.Requests > 0 || rl.Auth.Requests > 0
}

// documentRateLimits adds, when the spec sets rate limits, the RateLimit headers to every
// success answer and a 429 (with Retry-After) to every operation.
func documentRateLimits(s *spec.Spec, paths, responses obj) {
	if !rateLimited(s) {
		return
	}
	headers := obj{}
	for name, h := range rateLimitHeaders {
		headers[name] = h
	}
	tooMany := obj{"description": "Too many requests: wait Retry-After seconds", "headers": obj{
		"Retry-After": obj{"description": "Seconds to wait", "schema": obj{"type": "integer"}}},
		"content": obj{"application/problem+json": obj{"schema": ref("Problem")}}}
	for name, h := range headers {
		tooMany["headers"].(obj)[name] = h
	}
	responses["TooManyRequests"] = tooMany
	for _, item := range paths {
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			op, ok := item.(obj)[method].(obj)
			if !ok || unlimited(op) {
				continue
			}
			rs := op["responses"].(obj)
			rs["429"] = problemRef("TooManyRequests")
			for code, r := range rs {
				if resp, ok := r.(obj); ok && len(code) == 3 && code[0] == '2' {
					withRateLimit(resp, headers)
				}
			}
		}
	}
}

func withRateLimit(resp, headers obj) {
	h, ok := resp["headers"].(obj)
	if !ok {
		h = obj{}
		resp["headers"] = h
	}
	for name, v := range headers {
		h[name] = v
	}
}

// unlimitedOps are the operations of routes the server serves outside the rate limits (no
// budget is spent on them, so no 429 or RateLimit header comes back): the probes, this
// document, the token-signing keys and stored files.
var unlimitedOps = map[string]bool{"healthz": true, "readyz": true, "openapi": true, "jwks": true, "getStoredFile": true}

// unlimited reports whether op is served outside the rate limits: one of unlimitedOps, or an
// incoming webhook, whose sender's signature is checked instead.
func unlimited(op obj) bool {
	id, _ := op["operationId"].(string)
	tags, _ := op["tags"].([]string)
	return unlimitedOps[id] || len(tags) == 1 && tags[0] == incomingTag
}
