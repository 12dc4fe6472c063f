package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newHS(t testing.TB, c *clock) *Tokens {
	tk, err := NewTokens(TokenConfig{Issuer: "kiln", Audience: "shop", Keys: []Key{{ID: "k1", Secret: secret}}, Now: c.Now})
	require.NoError(t, err)
	return tk
}

func TestIssueAndVerify(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	tk := newHS(t, c)
	raw, err := tk.Issue("user-1", []string{"staff"}, "sess-1")
	require.NoError(t, err)
	claims, err := tk.Verify(raw)
	require.NoError(t, err)
	require.Equal(t, "user-1", claims.Subject)
	require.Equal(t, []string{"staff"}, claims.Roles)
	require.Equal(t, "sess-1", claims.SessionID)

	c.now = c.now.Add(15*time.Minute + 31*time.Second)
	_, err = tk.Verify(raw)
	require.ErrorIs(t, err, ErrInvalidToken, "expired")
}

func TestVerifyRejectsForgeries(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	tk := newHS(t, c)
	good, err := tk.Issue("user-1", nil, "")
	require.NoError(t, err)
	head, body, _ := strings.Cut(good, ".")
	body, _, _ = strings.Cut(body, ".")

	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
		tok := jwt.NewWithClaims(method, claims)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "kiln", "aud": "shop", "sub": "user-1", "iat": c.now.Unix(), "nbf": c.now.Unix(), "exp": c.now.Add(time.Minute).Unix()}
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	wrongAud, wrongIss, future, noExp := base(), base(), base(), base()
	wrongAud["aud"] = "other"
	wrongIss["iss"] = "evil"
	future["nbf"] = c.now.Add(time.Hour).Unix()
	delete(noExp, "exp")
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, base()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	for name, raw := range map[string]string{
		"AlgNone":        none,
		"WrongSecret":    sign(jwt.SigningMethodHS256, []byte("ffffffffffffffffffffffffffffffff"), base(), "k1"),
		"UnknownKid":     sign(jwt.SigningMethodHS256, secret, base(), "k9"),
		"HS512":          sign(jwt.SigningMethodHS512, secret, base(), "k1"),
		"EdDSAConfusion": sign(jwt.SigningMethodEdDSA, edKey, base(), "k1"),
		"WrongAudience":  sign(jwt.SigningMethodHS256, secret, wrongAud, "k1"),
		"WrongIssuer":    sign(jwt.SigningMethodHS256, secret, wrongIss, "k1"),
		"NotYetValid":    sign(jwt.SigningMethodHS256, secret, future, "k1"),
		"NoExpiry":       sign(jwt.SigningMethodHS256, secret, noExp, "k1"),
		"Tampered":       head + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + strings.Split(good, ".")[2],
		"Garbage":        "not.a.token",
		"Empty":          "",
		"BodyOnly":       body,
	} {
		_, err := tk.Verify(raw)
		require.ErrorIs(t, err, ErrInvalidToken, name)
	}
}

func TestEdDSARotationAndJWKS(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	_, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	_, newKey, _ := ed25519.GenerateKey(rand.Reader)
	before, err := NewTokens(TokenConfig{Issuer: "kiln", Audience: "shop", Keys: []Key{{ID: "2026-01", Private: oldKey}}, Now: c.Now})
	require.NoError(t, err)
	raw, err := before.Issue("u", nil, "")
	require.NoError(t, err)
	after, err := NewTokens(TokenConfig{Issuer: "kiln", Audience: "shop", Now: c.Now,
		Keys: []Key{{ID: "2026-02", Private: newKey}, {ID: "2026-01", Private: oldKey}}})
	require.NoError(t, err)
	_, err = after.Verify(raw)
	require.NoError(t, err, "tokens signed with the previous key stay valid")
	jwks := after.JWKS()
	require.Len(t, jwks, 2)
	require.Equal(t, "2026-02", jwks[0].Kid)

	_, err = NewTokens(TokenConfig{Issuer: "kiln", Audience: "shop", Keys: []Key{{ID: "a", Private: newKey}, {ID: "b", Secret: secret}}})
	require.Error(t, err, "mixed algorithms are refused")
	_, err = NewTokens(TokenConfig{Issuer: "kiln", Audience: "shop", Keys: []Key{{ID: "a", Secret: []byte("short")}}})
	require.Error(t, err)
}

// FuzzVerify: verification accepts only what this key signed. Any text is refused unless it
// is a token we issued (base64 may spell the same bytes two ways, so "issued" compares the
// decoded header, claims and signature); a token we issued for any subject passes and keeps
// its claims, and with any one byte changed it is refused unless the change leaves those
// decoded bytes as they were; the same claims signed with another key are refused.
func FuzzVerify(f *testing.F) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	tk := newHS(f, c)
	other, err := NewTokens(TokenConfig{Issuer: "kiln", Audience: "shop", Keys: []Key{{ID: "k1", Secret: []byte("another-secret-0123456789abcdef!")}}, Now: c.Now})
	require.NoError(f, err)
	good, _ := tk.Issue("u", []string{"a"}, "s")
	f.Add(good, "u", uint(10), byte('x'))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "admin", uint(0), byte('.'))
	f.Add("a.b.c", "", uint(200), byte('A'))
	f.Add(strings.Repeat("A", 9000), "ü", uint(1), byte(0))
	f.Fuzz(func(t *testing.T, raw, subject string, pos uint, b byte) {
		if _, err := tk.Verify(raw); err == nil && !sameToken(raw, good) {
			t.Fatalf("accepted a token it did not sign: %q", raw)
		}
		if subject == "" || !utf8.ValidString(subject) {
			subject = "u" // tokens name an account by its id: text, never empty
		}
		tok, err := tk.Issue(subject, []string{"a"}, "s")
		if errors.Is(err, ErrTokenTooLong) && len(subject) > maxTokenLen/8 {
			return // thousands of bytes of subject: refused at issue, as Verify would refuse it
		}
		if err != nil {
			t.Fatalf("issue for %q: %v", subject, err)
		}
		claims, err := tk.Verify(tok)
		if err != nil || claims.Subject != subject {
			t.Fatalf("its own token for %q: %v, %v", subject, claims, err)
		}
		m := []byte(tok)
		m[pos%uint(len(m))] = b
		if _, err := tk.Verify(string(m)); err == nil && !sameToken(string(m), tok) {
			t.Fatalf("accepted %q, a changed copy of %q", m, tok)
		}
		signed, err := other.Issue(subject, []string{"a"}, "s")
		require.NoError(t, err)
		if _, err := tk.Verify(signed); err == nil {
			t.Fatalf("accepted a token signed with another key: %q", signed)
		}
	})
}

// sameToken reports whether two compact JWTs decode to the same header, claims and signature.
func sameToken(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != 3 || len(pb) != 3 {
		return false
	}
	for i := range pa {
		da, err1 := base64.RawURLEncoding.DecodeString(pa[i])
		db, err2 := base64.RawURLEncoding.DecodeString(pb[i])
		if err1 != nil || err2 != nil || !bytes.Equal(da, db) {
			return false
		}
	}
	return true
}

func TestRS256TokensAreRefusedByAnHS256Server(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	tk := newHS(t, c)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "kiln", "aud": "shop", "sub": "u",
		"iat": c.now.Unix(), "exp": c.now.Add(time.Minute).Unix()})
	tok.Header["kid"] = "k1"
	raw, err := tok.SignedString(key)
	require.NoError(t, err)
	_, err = tk.Verify(raw)
	require.ErrorIs(t, err, ErrInvalidToken)
}

func TestRS256KeysAndJWKS(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tk, err := NewTokens(TokenConfig{Issuer: "kiln", Audience: "shop", Keys: []Key{{ID: "r1", RSA: key}}, Now: c.Now})
	require.NoError(t, err)
	raw, err := tk.Issue("u", nil, "")
	require.NoError(t, err)
	_, err = tk.Verify(raw)
	require.NoError(t, err)
	jwks := tk.JWKS()
	require.Len(t, jwks, 1)
	require.Equal(t, "RSA", jwks[0].Kty)
	require.Equal(t, "AQAB", jwks[0].E)
	// HS256 signed with the public key's bytes (the classic confusion) is refused.
	forged := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "kiln", "aud": "shop", "sub": "u", "iat": c.now.Unix(), "exp": c.now.Add(time.Minute).Unix()})
	forged.Header["kid"] = "r1"
	s, err := forged.SignedString(key.PublicKey.N.Bytes())
	require.NoError(t, err)
	_, err = tk.Verify(s)
	require.ErrorIs(t, err, ErrInvalidToken)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, err = NewTokens(TokenConfig{Issuer: "kiln", Audience: "shop", Keys: []Key{{ID: "s", RSA: small}}})
	require.Error(t, err)
}

// A token verified once is answered from the cache, with the same verdict a fresh parse gives
// at every instant around its window's edges (issued-at and expiry, each with the leeway),
// and a caller changing the claims it got changes no later answer.
func TestVerifiedTokenCacheKeepsTheVerdicts(t *testing.T) {
	t.Parallel()
	issued := time.Unix(1_800_000_000, 0)
	c := &clock{now: issued}
	warm := newHS(t, c)
	raw, err := warm.Issue("user-1", []string{"staff"}, "sess-1")
	require.NoError(t, err)
	first, err := warm.Verify(raw)
	require.NoError(t, err)
	first.Subject, first.Roles[0] = "someone-else", "admin"
	_, hit := warm.cache.get(raw, issued)
	require.True(t, hit, "a verified token is cached")

	for _, at := range []time.Duration{-31 * time.Second, -30 * time.Second, -29 * time.Second, 0,
		15*time.Minute + 29*time.Second, 15*time.Minute + 30*time.Second, 15*time.Minute + 31*time.Second} {
		c.now = issued.Add(at)
		cold := newHS(t, &clock{now: c.now})
		want, wantErr := cold.Verify(raw)
		got, gotErr := warm.Verify(raw)
		require.Equal(t, wantErr == nil, gotErr == nil, "at %s: fresh %v, cached %v", at, wantErr, gotErr)
		if wantErr == nil {
			require.Equal(t, want, got, "at %s", at)
			require.Equal(t, "user-1", got.Subject)
		}
	}
}

func TestVerifiedTokenCacheIsBounded(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	tk := newHS(t, c)
	for i := range verifiedCacheSize + 10 {
		raw, err := tk.Issue("user-"+strings.Repeat("x", i%7)+string(rune('a'+i%26)), nil, strings.Repeat("s", i))
		require.NoError(t, err)
		_, err = tk.Verify(raw)
		require.NoError(t, err)
		require.LessOrEqual(t, len(tk.cache.entries), verifiedCacheSize)
	}
}
