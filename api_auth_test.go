package kiln_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

func (b *testBundle) anon(method, path string, body any, headers ...string) response {
	return b.do(method, path, body, append([]string{"Authorization", ""}, headers...)...)
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestSignupLoginRefreshLogout(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		res := b.anon("POST", "/api/auth/signup", map[string]any{"email": "New@Example.com", "password": "a good password", "name": "New"})
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		require.Equal(t, "Bearer", res.body["token_type"])
		require.Equal(t, json.Number("900"), res.body["expires_in"])
		user := res.body["user"].(map[string]any)
		require.Equal(t, "new@example.com", user["email"], "emails are normalized")
		require.Equal(t, "customer", user["role"])
		require.NotContains(t, user, "password_hash")
		require.NotContains(t, string(res.raw), "a good password")

		login := b.anon("POST", "/api/auth/login", map[string]any{"email": "new@example.com", "password": "a good password"})
		require.Equal(t, http.StatusOK, login.status, string(login.raw))
		access, refresh := login.body["access_token"].(string), login.body["refresh_token"].(string)
		me := b.do("GET", "/api/auth/me", nil, bearer(access)...)
		require.Equal(t, http.StatusOK, me.status)
		require.Equal(t, user["id"], me.body["id"])

		bad := b.anon("POST", "/api/auth/login", map[string]any{"email": "new@example.com", "password": "wrong password"})
		require.Equal(t, http.StatusUnauthorized, bad.status)
		require.Equal(t, bad.body["detail"], b.anon("POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": "x"}).body["detail"],
			"unknown emails and wrong passwords look the same")

		next := b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh})
		require.Equal(t, http.StatusOK, next.status, string(next.raw))
		rotated := next.body["refresh_token"].(string)
		require.NotEqual(t, refresh, rotated)
		require.Equal(t, http.StatusNoContent, b.anon("POST", "/api/auth/logout", map[string]any{"refresh_token": rotated}).status)
		dead := b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": rotated})
		require.Equal(t, http.StatusUnauthorized, dead.status)
		require.NotEmpty(t, dead.header.Get("WWW-Authenticate"))
	})
}

func TestConcurrentRefreshesInsideGraceGetOnePair(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		pair, err := b.app.Accounts.StartSession(context.Background(), b.account("customer"))
		require.NoError(t, err)
		var wg sync.WaitGroup
		results := make([]response, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": pair.RefreshToken})
			}()
		}
		wg.Wait()
		for _, r := range results {
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
		}
		require.Equal(t, results[0].body["refresh_token"], results[1].body["refresh_token"])
		require.Equal(t, results[0].body["access_token"], results[1].body["access_token"])
	})
}

// signTest signs claims the way the test server would, or with another key.
func signTest(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = "hs1"
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestForgedTokensGet401(t *testing.T) {
	t.Parallel()
	eachDialect(t, testForgedTokens)
}

func testForgedTokens(t *testing.T, dialect string) {
	b := setup(t, dialect, "")
	id := b.account("admin")
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte("kiln-access-token"))
	realKey := mac.Sum(nil)
	now := time.Now()
	claims := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "kiln", "aud": "shop", "sub": id, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if mut != nil {
			mut(c)
		}
		return c
	}
	valid := signTest(t, jwt.SigningMethodHS256, realKey, claims(nil))
	require.Equal(t, http.StatusCreated, b.do("POST", "/api/tags", map[string]any{"name": "ok"}, bearer(valid)...).status, "the control token works")
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, tok := range map[string]string{
		"Forged":        signTest(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef-xx"), claims(nil)),
		"AlgNone":       none,
		"AlgConfusion":  signTest(t, jwt.SigningMethodHS384, realKey, claims(nil)),
		"Expired":       signTest(t, jwt.SigningMethodHS256, realKey, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })),
		"WrongAudience": signTest(t, jwt.SigningMethodHS256, realKey, claims(func(c jwt.MapClaims) { c["aud"] = "other" })),
		"UnknownUser":   signTest(t, jwt.SigningMethodHS256, realKey, claims(func(c jwt.MapClaims) { c["sub"] = "0192f0a0-0000-7000-8000-000000000999" })),
		"Garbage":       "abc",
	} {
		res := b.do("POST", "/api/tags", map[string]any{"name": name}, bearer(tok)...)
		require.Equal(t, http.StatusUnauthorized, res.status, name)
		require.Equal(t, "unauthorized", res.body["error"], name)
	}
	// A disabled account's tokens stop working.
	require.Equal(t, http.StatusOK, b.do("PATCH", "/api/users/"+id, map[string]any{"disabled": true}).status)
	require.Equal(t, http.StatusUnauthorized, b.do("GET", "/api/auth/me", nil, bearer(valid)...).status)
}

func TestCustomersSeeOnlyTheirOwnOrders(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		ann, bob := b.account("customer"), b.account("customer")
		annTok, bobTok := b.tokenFor(ann), b.tokenFor(bob)
		mine := b.do("POST", "/api/orders", map[string]any{"notes": "mine"}, bearer(annTok)...)
		require.Equal(t, http.StatusCreated, mine.status, string(mine.raw))
		require.Equal(t, ann, mine.body["owner"], "owner defaults to the signed-in account")
		theirs := b.do("POST", "/api/orders", map[string]any{"notes": "theirs"}, bearer(bobTok)...)
		require.Equal(t, http.StatusCreated, theirs.status)
		theirID := theirs.body["id"].(string)

		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/orders/"+theirID, nil, bearer(annTok)...).status)
		list := b.do("GET", "/api/orders?count=true", nil, bearer(annTok)...)
		require.Equal(t, json.Number("1"), list.body["total"])
		require.Len(t, list.body["items"], 1)
		require.Equal(t, mine.body["id"], list.body["items"].([]any)[0].(map[string]any)["id"])
		filtered := b.do("GET", "/api/orders?count=true&filter="+urlEncode(`id == "`+theirID+`"`), nil, bearer(annTok)...)
		require.Equal(t, json.Number("0"), filtered.body["total"])
		require.Equal(t, json.Number("2"), b.do("GET", "/api/orders?count=true", nil).body["total"], "admins see all")

		steal := b.do("POST", "/api/orders", map[string]any{"owner": bob}, bearer(annTok)...)
		require.Equal(t, http.StatusBadRequest, steal.status)
		require.Equal(t, map[string]string{"owner": "not_allowed"}, fieldCodes(steal.body))
		require.Equal(t, http.StatusForbidden, b.do("PATCH", "/api/orders/"+theirID, map[string]any{"notes": "x"}, bearer(annTok)...).status)
	})
}

func TestRolesGuardWritesAndFields(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		cust := b.token("customer")
		res := b.do("POST", "/api/products", map[string]any{"name": "X", "price": 1}, bearer(cust)...)
		require.Equal(t, http.StatusForbidden, res.status)
		require.Equal(t, "forbidden", res.body["error"])
		anon := b.anon("POST", "/api/products", map[string]any{"name": "X", "price": 1})
		require.Equal(t, http.StatusUnauthorized, anon.status)
		require.Contains(t, anon.header.Get("WWW-Authenticate"), "Bearer")
		require.Equal(t, http.StatusOK, b.anon("GET", "/api/products", nil).status, "catalog reads are public")
		require.Equal(t, http.StatusCreated, b.do("POST", "/api/products", map[string]any{"name": "X", "price": 1}, bearer(b.token("staff"))...).status)

		signup := b.anon("POST", "/api/auth/signup", map[string]any{"email": "sneaky@example.com", "password": "a long password", "role": "admin"})
		require.Equal(t, http.StatusBadRequest, signup.status)
		require.Equal(t, map[string]string{"role": "not_allowed"}, fieldCodes(signup.body))

		id := b.account("customer")
		tok := b.tokenFor(id)
		up := b.do("PATCH", "/api/users/"+id, map[string]any{"role": "admin", "name": "Me"}, bearer(tok)...)
		require.Equal(t, http.StatusBadRequest, up.status)
		require.Equal(t, map[string]string{"role": "not_allowed"}, fieldCodes(up.body))
		me := b.do("GET", "/api/auth/me", nil, bearer(tok)...)
		require.Equal(t, "customer", me.body["role"], "the stored role is unchanged")
		require.Nil(t, me.body["name"], "a refused write changes nothing")
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/users/"+id, map[string]any{"name": "Me"}, bearer(tok)...).status)
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/users/"+b.account("customer"), nil, bearer(tok)...).status)
	})
}

func TestSecretsNeverReachTheLog(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	b := setupWithLogger(t, slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil)))
	pw := "secret-password-42"
	res := b.anon("POST", "/api/auth/signup", map[string]any{"email": "log@example.com", "password": pw})
	require.Equal(t, http.StatusCreated, res.status)
	refresh := res.body["refresh_token"].(string)
	access := res.body["access_token"].(string)
	b.anon("POST", "/api/auth/login", map[string]any{"email": "log@example.com", "password": pw})
	b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh})
	b.do("GET", "/api/auth/me?token="+access, nil, bearer(access)...)
	mu.Lock()
	defer mu.Unlock()
	out := logs.String()
	require.NotEmpty(t, out)
	for _, secret := range []string{pw, refresh, access, testSecret} {
		require.False(t, strings.Contains(out, secret), "a secret reached the log")
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestEdDSAKeysArePublished(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seed := strings.Repeat("k", 32)
	env := map[string]string{"KILN_AUTH_ED25519_KEYS": "2026-11:" + base64.StdEncoding.EncodeToString([]byte(seed))}
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: dir,
		MigrationsDir: filepath.Join(dir, "m"), Dev: true, AuthSecret: testSecret, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	staff, err := app.CreateAccount(context.Background(), "ed@example.com", "staff", "", "")
	require.NoError(t, err)
	pair, err := app.Accounts.StartSession(context.Background(), staff.ID)
	require.NoError(t, err)

	res, err := http.Get(srv.URL + "/api/auth/jwks.json")
	require.NoError(t, err)
	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&jwks))
	res.Body.Close()
	require.Len(t, jwks.Keys, 1)
	require.Equal(t, "2026-11", jwks.Keys[0]["kid"])
	require.Equal(t, "EdDSA", jwks.Keys[0]["alg"])

	// The token verifies with the published key, as another service would check it.
	x, err := base64.RawURLEncoding.DecodeString(jwks.Keys[0]["x"])
	require.NoError(t, err)
	parsed, err := jwt.Parse(pair.AccessToken, func(*jwt.Token) (any, error) { return ed25519.PublicKey(x), nil },
		jwt.WithValidMethods([]string{"EdDSA"}))
	require.NoError(t, err)
	require.True(t, parsed.Valid)
	req, _ := http.NewRequest("GET", srv.URL+"/api/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
	me, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	me.Body.Close()
	require.Equal(t, http.StatusOK, me.StatusCode)
}

func TestRS256KeysFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := rsa.GenerateKey(crand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	path := filepath.Join(dir, "jwt.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	env := map[string]string{"KILN_AUTH_RSA_KEY_FILES": "rsa-2026:" + path}
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: dir,
		MigrationsDir: filepath.Join(dir, "m"), Dev: true, AuthSecret: testSecret, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	defer app.Close()
	acct, err := app.CreateAccount(context.Background(), "rsa@example.com", "staff", "", "")
	require.NoError(t, err)
	pair, err := app.Accounts.StartSession(context.Background(), acct.ID)
	require.NoError(t, err)
	parsed, err := jwt.Parse(pair.AccessToken, func(*jwt.Token) (any, error) { return &key.PublicKey, nil }, jwt.WithValidMethods([]string{"RS256"}))
	require.NoError(t, err)
	require.Equal(t, "rsa-2026", parsed.Header["kid"])
	require.Equal(t, "RSA", app.Accounts.JWKS()[0].Kty)
}
