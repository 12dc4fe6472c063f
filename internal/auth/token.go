package auth

import (
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest HS256 secret accepted, in bytes.
const MinSecretLen = 32

// ErrInvalidToken is every rejected access token; the cause stays in the wrapped error.
var ErrInvalidToken = errors.New("invalid access token")

// Claims are the claims of a Kiln access token.
type Claims struct {
	jwt.RegisteredClaims
	Roles     []string `json:"roles,omitempty"`
	SessionID string   `json:"sid,omitempty"`
}

// Key is one signing key: an HS256 secret, an Ed25519 key (EdDSA) or an RSA key (RS256).
type Key struct {
	ID      string
	Secret  []byte             // HS256
	Private ed25519.PrivateKey // EdDSA
	RSA     *rsa.PrivateKey    // RS256
}

func (k Key) method() jwt.SigningMethod {
	switch {
	case k.Private != nil:
		return jwt.SigningMethodEdDSA
	case k.RSA != nil:
		return jwt.SigningMethodRS256
	}
	return jwt.SigningMethodHS256
}

func (k Key) signKey() any {
	switch {
	case k.Private != nil:
		return k.Private
	case k.RSA != nil:
		return k.RSA
	}
	return k.Secret
}

func (k Key) verifyKey() any {
	switch {
	case k.Private != nil:
		return k.Private.Public()
	case k.RSA != nil:
		return &k.RSA.PublicKey
	}
	return k.Secret
}

// TokenConfig configures a Tokens issuer/verifier.
type TokenConfig struct {
	Issuer   string
	Audience string
	TTL      time.Duration // default 15 minutes
	Leeway   time.Duration // clock skew allowed; default 30 s
	// Keys: the first signs; all verify (by kid), so keys rotate without logging anyone out.
	// All keys use one algorithm: mixing HMAC and EdDSA would invite algorithm confusion.
	Keys []Key
	Now  func() time.Time
}

func (c TokenConfig) validate() error {
	if c.Issuer == "" || c.Audience == "" {
		return errors.New("tokens need an issuer and an audience")
	}
	if len(c.Keys) == 0 {
		return errors.New("tokens need a signing key")
	}
	first := c.Keys[0].method()
	seen := map[string]bool{}
	for _, k := range c.Keys {
		if k.method() != first {
			return errors.New("all token keys must use the same algorithm")
		}
		if k.RSA != nil && k.RSA.N.BitLen() < 2048 {
			return errors.New("RSA token keys must have at least 2048 bits")
		}
		if k.Private == nil && k.RSA == nil && len(k.Secret) < MinSecretLen {
			return fmt.Errorf("HS256 secrets must be at least %d bytes", MinSecretLen)
		}
		if k.ID == "" || seen[k.ID] {
			return errors.New("token keys need distinct ids")
		}
		seen[k.ID] = true
	}
	return nil
}

// Tokens issues and verifies access tokens.
type Tokens struct {
	cfg    TokenConfig
	method jwt.SigningMethod
	byID   map[string]Key
	parser *jwt.Parser
	cache  verifiedCache
}

// NewTokens checks cfg and builds the issuer.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	if cfg.TTL == 0 {
		cfg.TTL = 15 * time.Minute
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Tokens{cfg: cfg, method: cfg.Keys[0].method(), byID: map[string]Key{}}
	for _, k := range cfg.Keys {
		t.byID[k.ID] = k
	}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{t.method.Alg()}), // rejects alg:none and algorithm confusion
		jwt.WithIssuer(cfg.Issuer), jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(cfg.Leeway), jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding())
	return t, nil
}

// TTL is how long issued tokens live.
func (t *Tokens) TTL() time.Duration { return t.cfg.TTL }

// Issue signs an access token for subject, issued now.
func (t *Tokens) Issue(subject string, roles []string, sessionID string) (string, error) {
	return t.IssueAt(subject, roles, sessionID, t.cfg.Now())
}

// IssueAt signs an access token as issued at now. Signatures are deterministic (HMAC,
// Ed25519), so the same inputs give the same token: a refresh repeated inside the grace
// window gets the same pair.
func (t *Tokens) IssueAt(subject string, roles []string, sessionID string, now time.Time) (string, error) {
	now = now.Truncate(time.Second)
	key := t.cfg.Keys[0]
	claims := Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: t.cfg.Issuer, Subject: subject, Audience: jwt.ClaimStrings{t.cfg.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(t.cfg.TTL)),
	}, Roles: roles, SessionID: sessionID}
	tok := jwt.NewWithClaims(t.method, claims)
	tok.Header["kid"] = key.ID
	s, err := tok.SignedString(key.signKey())
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	if len(s) > maxTokenLen {
		return "", ErrTokenTooLong
	}
	return s, nil
}

// maxTokenLen bounds the token text parsed, in bytes; no token longer is issued either.
const maxTokenLen = 8192

// ErrTokenTooLong is a token that would be longer than Verify reads (maxTokenLen): its claims
// (subject, roles, session id) are too long to be sent back.
var ErrTokenTooLong = errors.New("the access token's claims are too long")

// Verify parses and checks an access token: signature by kid, algorithm, issuer, audience,
// expiry and not-before. Every failure is ErrInvalidToken. A token verified before is not
// parsed again: only its time window is checked (verifiedCache).
func (t *Tokens) Verify(raw string) (*Claims, error) {
	if len(raw) > maxTokenLen {
		return nil, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	if c, ok := t.cache.get(raw, t.cfg.Now()); ok {
		return c, nil
	}
	var claims Claims
	_, err := t.parser.ParseWithClaims(raw, &claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		key, ok := t.byID[kid]
		if !ok {
			return nil, errors.New("unknown key id")
		}
		return key.verifyKey(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	t.cache.put(raw, &claims, t.cfg.Leeway)
	return &claims, nil
}

// JWK is one public key in a JWKS document.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS returns the public keys (EdDSA and RS256; HS256 secrets are never published).
func (t *Tokens) JWKS() []JWK {
	var out []JWK
	b64 := base64.RawURLEncoding
	for _, k := range t.cfg.Keys {
		switch {
		case k.Private != nil:
			pub := k.Private.Public().(ed25519.PublicKey)
			out = append(out, JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub), Kid: k.ID, Alg: "EdDSA", Use: "sig"})
		case k.RSA != nil:
			e := big.NewInt(int64(k.RSA.E)).Bytes()
			out = append(out, JWK{Kty: "RSA", N: b64.EncodeToString(k.RSA.N.Bytes()), E: b64.EncodeToString(e), Kid: k.ID, Alg: "RS256", Use: "sig"})
		}
	}
	return out
}
