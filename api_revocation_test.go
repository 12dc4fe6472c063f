package kiln_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// revocationBound is the documented time within which every instance refuses a revoked
// session's access tokens (docs/scaling.md).
const revocationBound = 5 * time.Second

// instancePair starts two shop instances on one PostgreSQL schema with one signing secret:
// a token from one is good on the other. grace sets auth.refresh_grace when not empty.
func instancePair(t *testing.T, grace string) (*testBundle, *testBundle) {
	t.Helper()
	pgURL := testdb.PostgresURL(t)
	dir := t.TempDir()
	specPath := filepath.Join("examples", "shop", "kiln.yaml")
	if grace != "" {
		src, err := os.ReadFile(specPath)
		require.NoError(t, err)
		specPath = filepath.Join(dir, "kiln.yaml")
		changed := strings.Replace(string(src), "  audience: shop\n", "  audience: shop\n  refresh_grace: "+grace+"\n", 1)
		require.NoError(t, os.WriteFile(specPath, []byte(changed), 0o644))
		copyShopMails(t, dir)
	}
	start := func() *testBundle {
		data := t.TempDir()
		app, err := kiln.New(context.Background(), kiln.Config{SpecPath: specPath, DataDir: data,
			MigrationsDir: filepath.Join(dir, "migrations"), DatabaseURL: pgURL, Dev: true, LookupEnv: noEnv,
			AuthSecret: testSecret, NoRateLimits: true})
		require.NoError(t, err)
		srv := httptest.NewServer(app.Handler())
		t.Cleanup(func() { srv.Close(); _ = app.Close() })
		return &testBundle{app: app, srv: srv, t: t, dataDir: data}
	}
	a, b := start(), start()
	a.admin = a.token("admin")
	b.admin = a.admin
	return a, b
}

// signup signs a new customer up on b and returns its token pair.
func signup(b *testBundle) (access, refresh, id string) {
	b.t.Helper()
	res := b.anon("POST", "/api/auth/signup", map[string]any{"email": "u" + time.Now().Format("150405.000000") + "@example.com",
		"password": "a long password"})
	require.Equal(b.t, http.StatusCreated, res.status, string(res.raw))
	return res.body["access_token"].(string), res.body["refresh_token"].(string), res.body["user"].(map[string]any)["id"].(string)
}

func (b *testBundle) me(access string) int {
	return b.do("GET", "/api/auth/me", nil, bearer(access)...).status
}

// refusedWithin waits until b refuses access and returns how long that took; it fails past
// the documented bound.
func refusedWithin(t *testing.T, b *testBundle, access string) time.Duration {
	t.Helper()
	start := time.Now()
	require.Eventually(t, func() bool { return b.me(access) == http.StatusUnauthorized }, revocationBound, 5*time.Millisecond,
		"refused on the other instance within %s", revocationBound)
	return time.Since(start)
}

func TestLogoutReachesEveryInstance(t *testing.T) {
	t.Parallel()
	a, b := instancePair(t, "")
	access, refresh, _ := signup(a)
	require.Equal(t, http.StatusOK, b.me(access), "the token works on the other instance")
	require.Equal(t, http.StatusNoContent, a.anon("POST", "/api/auth/logout", map[string]any{"refresh_token": refresh}).status)
	require.Equal(t, http.StatusUnauthorized, a.me(access), "refused at once where the logout happened")
	took := refusedWithin(t, b, access)
	t.Logf("logout reached the other instance in %s", took)
	other, _, _ := signup(a)
	require.Equal(t, http.StatusOK, b.me(other), "other sessions are untouched")
}

// Presenting a rotated refresh token again revokes its family: the access tokens too.
func TestReusedRefreshTokenRevokesAccessTokens(t *testing.T) {
	t.Parallel()
	a, b := instancePair(t, "1ms")
	_, refresh, _ := signup(a)
	res := a.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh})
	require.Equal(t, http.StatusOK, res.status)
	access := res.body["access_token"].(string)
	require.Equal(t, http.StatusOK, b.me(access))
	time.Sleep(5 * time.Millisecond) // past the 1 ms grace: the clock is what is under test
	require.Equal(t, http.StatusUnauthorized, a.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh}).status)
	refusedWithin(t, b, access)
	require.Equal(t, http.StatusUnauthorized, a.me(access))
}

func TestPasswordChangeEndsOtherSessionsEverywhere(t *testing.T) {
	t.Parallel()
	a, b := instancePair(t, "")
	res := a.anon("POST", "/api/auth/signup", map[string]any{"email": "pw@example.com", "password": "a long password"})
	require.Equal(t, http.StatusCreated, res.status)
	first := res.body["access_token"].(string)
	login := b.anon("POST", "/api/auth/login", map[string]any{"email": "pw@example.com", "password": "a long password"})
	require.Equal(t, http.StatusOK, login.status)
	second := login.body["access_token"].(string)
	change := a.do("POST", "/api/auth/password", map[string]any{"current_password": "a long password", "new_password": "another long one"},
		bearer(first)...)
	require.Equal(t, http.StatusNoContent, change.status, string(change.raw))
	refusedWithin(t, b, second)
	require.Equal(t, http.StatusOK, b.me(first), "the session that changed the password goes on")
}

// Disabling an account refuses its tokens on every instance; enabling it again revives none.
func TestDisableRevokesAndEnableDoesNotRevive(t *testing.T) {
	t.Parallel()
	a, b := instancePair(t, "")
	access, refresh, id := signup(a)
	require.Equal(t, http.StatusOK, b.me(access))
	require.Equal(t, http.StatusOK, a.do("PATCH", "/api/users/"+id, map[string]any{"disabled": true}).status)
	refusedWithin(t, b, access)
	require.Equal(t, http.StatusOK, a.do("PATCH", "/api/users/"+id, map[string]any{"disabled": false}).status)
	fresh := b.anon("POST", "/api/auth/login", map[string]any{"email": b.do("GET", "/api/users/"+id, nil).body["email"], "password": "a long password"})
	require.Equal(t, http.StatusOK, fresh.status, "enabled again: it can log in")
	require.Equal(t, http.StatusOK, a.me(fresh.body["access_token"].(string)))
	for _, inst := range []*testBundle{a, b} {
		require.Equal(t, http.StatusUnauthorized, inst.me(access), "the old access token stays dead")
	}
	require.Equal(t, http.StatusUnauthorized, a.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh}).status,
		"so does the old refresh token")
}

// A role change reaches the other instance's role cache within the bound.
func TestRoleChangeReachesEveryInstance(t *testing.T) {
	t.Parallel()
	a, b := instancePair(t, "")
	id := a.account("staff")
	access := a.tokenFor(id)
	create := func() int {
		return b.do("POST", "/api/products", map[string]any{"name": "p-" + time.Now().Format("150405.000000"), "price": 1}, bearer(access)...).status
	}
	require.Equal(t, http.StatusCreated, create(), "staff may create products (and b caches the role)")
	require.Equal(t, http.StatusOK, a.do("PATCH", "/api/users/"+id, map[string]any{"role": "customer"}).status)
	start := time.Now()
	require.Eventually(t, func() bool { return create() == http.StatusForbidden }, revocationBound, 5*time.Millisecond)
	t.Logf("role change reached the other instance in %s", time.Since(start))
}
