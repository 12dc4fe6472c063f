package kiln_test

import (
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// shopWith returns the shop spec with each old → new replacement made (each must occur).
func shopWith(t *testing.T, pairs ...string) string {
	t.Helper()
	src, err := os.ReadFile("examples/shop/kiln.yaml")
	require.NoError(t, err)
	s := string(src)
	for i := 0; i+1 < len(pairs); i += 2 {
		require.Contains(t, s, pairs[i])
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// The answer to a reset request must not tell whether the email has an account. Pairs of
// requests — one for an existing email, one for an unknown one, in random order — are timed;
// without a signal the existing one is slower in about half of the pairs (a sign test: with
// 300 pairs, outside 35–65% happens by chance less than once in a million runs, and machine
// load shifts hit both members of a pair alike; the queued mail work runs between blocks of
// pairs, as it would between an attacker's requests). Before the fix PostgreSQL answered an
// existing email 4.1× slower by the median (SQLite 1.5×): nearly every pair.
func TestPasswordResetTimingDoesNotTellWhetherAnAccountExists(t *testing.T) {
	t.Parallel()
	src := shopWith(t, "    auth: ${KILN_RATE_AUTH:-20/min}", "    auth: off\n    password_reset: off\n    password_reset_email: off")
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		b.signup("exists@example.com", "some password")
		measure := func(email string) time.Duration {
			start := time.Now()
			res := b.anon("POST", "/api/auth/password/reset", map[string]any{"email": email})
			d := time.Since(start)
			require.Equal(t, http.StatusAccepted, res.status)
			return d
		}
		const pairs = 300
		var known, unknown []time.Duration
		slower := 0
		for i := 0; i < pairs; i++ {
			var k, u time.Duration
			if rand.IntN(2) == 0 {
				k, u = measure("exists@example.com"), measure("nobody@example.com")
			} else {
				u, k = measure("nobody@example.com"), measure("exists@example.com")
			}
			known, unknown = append(known, k), append(unknown, u)
			if k > u {
				slower++
			}
			if i%25 == 24 {
				b.app.Accounts.FlushResets() // keep the queue short; the work lands between pairs
			}
		}
		share := float64(slower) / pairs
		t.Logf("%s: existing email slower in %.0f%% of %d pairs; medians %v vs %v", dialect, 100*share, pairs, median(known), median(unknown))
		require.InDelta(t, 0.5, share, 0.15, "the answer time tells whether an account exists")
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// Reset requests have their own budgets (per address and per email) and never count as
// failed logins: ten resets for unknown emails from one address, then the right password
// from that address logs in. The budgets answer 429 with Retry-After when spent.
func TestResetRequestsDoNotCountAsFailedLogins(t *testing.T) {
	t.Parallel()
	src := shopWith(t, "    auth: ${KILN_RATE_AUTH:-20/min}", "    auth: off\n    password_reset: 12/h\n    password_reset_email: 3/h")
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		b.signup("staffer@example.com", "the right password")
		for i := 0; i < 10; i++ {
			res := b.anon("POST", "/api/auth/password/reset", map[string]any{"email": "unknown" + string(rune('a'+i)) + "@example.com"})
			require.Equal(t, http.StatusAccepted, res.status, "reset %d", i)
		}
		require.Equal(t, http.StatusOK, b.loginStatus("staffer@example.com", "the right password"), "resets are not failed logins")

		for i := 0; i < 2; i++ {
			res := b.anon("POST", "/api/auth/password/reset", map[string]any{"email": "staffer@example.com"})
			require.Equal(t, http.StatusAccepted, res.status)
			// The answer names the client's budget, never the email's: that count would tell
			// anyone how many resets were asked for an address.
			require.Equal(t, `"password_reset";q=12;w=3600`, res.header.Get("RateLimit-Policy"))
			require.Equal(t, strconv.Itoa(12-11-i), rateLimitParam(t, res.header, "r"))
		}
		perEmail := b.anon("POST", "/api/auth/password/reset", map[string]any{"email": "Staffer@Example.com"})
		require.Equal(t, http.StatusTooManyRequests, perEmail.status, "the per-email budget (3/h) is spent, whatever the case")
		require.NotEmpty(t, perEmail.header.Get("Retry-After"))
		perAddress := b.anon("POST", "/api/auth/password/reset", map[string]any{"email": "fresh@example.com"})
		require.Equal(t, http.StatusTooManyRequests, perAddress.status, "the per-address budget (12/h) is spent")
		require.Equal(t, http.StatusOK, b.loginStatus("staffer@example.com", "the right password"), "logins still work")
	})
}

// A relation value the writer may not view answers exactly like a missing one, so a write
// cannot probe which ids exist; allow_hidden opts a field out.
func TestRelationWritesDoNotRevealRecordsTheWriterCannotView(t *testing.T) {
	t.Parallel()
	const spec = `
name: probe
roles: [admin, member]
auth: {account: users}
resources:
  users:
    fields: {name: string}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  secrets:
    fields: {label: string}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  notes:
    fields:
      about: {type: relation, to: secrets}
      many: {type: relation, to: secrets, many: true}
      open: {type: relation, to: secrets, allow_hidden: true}
    access: {list: public, view: public, create: [member, admin], update: [admin], delete: [admin]}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, spec)
		secret := b.create("secrets", map[string]any{"label": "s"})
		missing := "0192f0a0-0000-7000-8000-0000000000aa"
		member := bearer(b.token("member"))
		for _, field := range []string{"about", "many"} {
			value := func(id string) any {
				if field == "many" {
					return []string{id}
				}
				return id
			}
			hidden := b.do("POST", "/api/notes", map[string]any{field: value(secret)}, member...)
			absent := b.do("POST", "/api/notes", map[string]any{field: value(missing)}, member...)
			require.Equal(t, http.StatusBadRequest, hidden.status, field)
			require.Equal(t, absent.status, hidden.status, field)
			require.Equal(t, fieldCodes(absent.body), fieldCodes(hidden.body), field)
			require.Equal(t, strings.Replace(absent.body["errors"].([]any)[0].(map[string]any)["message"].(string), missing, secret, 1),
				hidden.body["errors"].([]any)[0].(map[string]any)["message"], "the same words, whichever id")
		}
		require.Equal(t, http.StatusCreated, b.do("POST", "/api/notes", map[string]any{"about": secret}).status, "admins see secrets")
		require.Equal(t, http.StatusCreated, b.do("POST", "/api/notes", map[string]any{"open": secret}, member...).status,
			"allow_hidden lets the field point at records the writer cannot see")
		require.Equal(t, int64(2), b.count("notes"))
	})
}

// If-Match compares strongly (RFC 9110 §13.1.1): a weak ETag never matches.
func TestWeakIfMatchNeverMatches(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		id := b.create("tags", map[string]any{"name": "t"})
		etag := b.do("GET", "/api/tags/"+id, nil).header.Get("ETag")
		res := b.do("PATCH", "/api/tags/"+id, map[string]any{"name": "weak"}, "If-Match", "W/"+etag)
		require.Equal(t, http.StatusPreconditionFailed, res.status)
		require.Equal(t, http.StatusPreconditionFailed, b.do("DELETE", "/api/tags/"+id, nil, "If-Match", "W/"+etag).status)
		require.Equal(t, "t", b.do("GET", "/api/tags/"+id, nil).body["name"], "nothing changed")
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/tags/"+id, map[string]any{"name": "strong"}, "If-Match", etag).status)
	})
}

// X-API-Key takes API keys only: an access token sent there is refused.
func TestXAPIKeyHeaderRefusesAccessTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	res := b.do("POST", "/api/tags", map[string]any{"name": "t"}, "Authorization", "", "X-API-Key", b.admin)
	require.Equal(t, http.StatusUnauthorized, res.status)
	require.Contains(t, res.body["detail"], "API keys only")
	key := b.do("POST", "/api/auth/keys", map[string]any{"name": "k", "role": "staff", "scopes": []string{"tags:write"}}).body["key"].(string)
	require.Equal(t, http.StatusCreated, b.do("POST", "/api/tags", map[string]any{"name": "t"}, "Authorization", "", "X-API-Key", key).status)
}

// Who administers comes from the spec (auth.admin_roles, by default admin or else the first
// role): a spec without a role named admin can still invite and manage keys through the API.
func TestAdministeringRolesComeFromTheSpec(t *testing.T) {
	t.Parallel()
	const spec = `
name: library
roles: [librarian, member]
auth: {account: users, signup: invite}
resources:
  users:
    fields: {name: string}
    access: {list: [librarian], view: [librarian], create: [librarian], update: [librarian], delete: [librarian]}
  books:
    fields: {title: {type: string, required: true}}
    access: {list: public, view: public, create: [librarian], update: [librarian], delete: [librarian]}
`
	for name, tc := range map[string]struct{ src, admin, other string }{
		"DefaultsToTheFirstRole": {src: spec, admin: "librarian", other: "member"},
		"Declared":               {src: strings.Replace(spec, "signup: invite}", "signup: invite, admin_roles: [member]}", 1), admin: "member", other: "librarian"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "sqlite", tc.src)
			admin, other := bearer(b.token(tc.admin)), bearer(b.token(tc.other))
			key := map[string]any{"name": "k", "role": "member", "scopes": []string{"books:read"}}
			require.Equal(t, http.StatusCreated, b.do("POST", "/api/auth/keys", key, admin...).status)
			require.Equal(t, http.StatusForbidden, b.do("POST", "/api/auth/keys", key, other...).status)
			invite := map[string]any{"email": "reader@example.com", "role": "member"}
			require.Equal(t, http.StatusAccepted, b.do("POST", "/api/auth/invites", invite, admin...).status)
			denied := b.do("POST", "/api/auth/invites", invite, other...)
			require.Equal(t, http.StatusForbidden, denied.status)
			require.Contains(t, denied.body["detail"], "auth.admin_roles")
		})
	}
}

// Every query runs under server.query_timeout: past it the answer is 503 query_timeout with
// Retry-After (never a 500), and a write that ran out of time left nothing behind.
func TestQueriesPastTheirDeadlineAnswerQueryTimeout(t *testing.T) {
	t.Parallel()
	const spec = `
name: deadline
server: {query_timeout: 1ns}
resources:
  notes:
    fields: {title: string}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, spec)
		for _, req := range []struct{ method, path string }{{"GET", "/api/notes"}, {"GET", "/api/notes/0192f0a0-0000-7000-8000-000000000001"},
			{"POST", "/api/notes"}} {
			var body any
			if req.method == "POST" {
				body = map[string]any{"title": "late"}
			}
			res := b.do(req.method, req.path, body)
			require.Equal(t, http.StatusServiceUnavailable, res.status, req.path)
			require.Equal(t, "query_timeout", res.body["error"])
			require.Equal(t, "1", res.header.Get("Retry-After"))
		}
		require.Equal(t, int64(0), b.count("notes"))
	})
}

// A list asking for more than ten predicates no index serves is refused before it runs.
func TestCostlyFiltersAreRefused(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		clauses := strings.TrimSuffix(strings.Repeat(`!description.contains("x") && `, 11), " && ")
		res := b.do("GET", "/api/products?filter="+urlEncode(clauses), nil)
		require.Equal(t, http.StatusBadRequest, res.status)
		require.Equal(t, map[string]string{"filter": "too_costly"}, fieldCodes(res.body))
		ten := strings.TrimSuffix(strings.Repeat(`!description.contains("x") && `, 10), " && ")
		require.Equal(t, http.StatusOK, b.do("GET", "/api/products?filter="+urlEncode(ten), nil).status)
	})
}
