package kiln

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/revocation"
	"github.com/kiln-dev/kiln/internal/service"
)

// ErrNoAuthSecret means a spec with accounts is served without a signing secret outside dev mode.
var ErrNoAuthSecret = errors.New("the spec has accounts but KILN_AUTH_SECRET is not set (32 or more bytes); dev mode uses a temporary one")

// eventsCommitted wakes this instance's live updates and, through NOTIFY, the other instances'.
func (a *App) eventsCommitted() {
	a.live.Wake()
	a.notifier.Poke()
}

// build wires the service and, when the spec has an auth block, the account machinery.
// newService builds the service with the Go program's hooks and actions; passwords (nil
// without auth) hash account passwords, and account writes reach the accounts' caches.
func (a *App) newService(cfg Config, passwords service.PasswordHasher) error {
	scfg := service.Config{Spec: a.Spec, Logger: cfg.Logger, Rules: a.compiled.rules, Logic: a.compiled.logic, Jobs: a.Jobs,
		EventsCommittedFunc: a.eventsCommitted}
	if a.files != nil {
		scfg.Files = a.files
	}
	if cfg.Extensions != nil {
		scfg.Hooks = hooks{x: cfg.Extensions, svc: func() *service.Service { return a.Service }, log: cfg.Logger}
	}
	if a.webhooks != nil && a.webhooks.Enabled() {
		scfg.Webhooks = a.webhooks
	}
	if passwords != nil {
		scfg.Passwords = passwords
		account := a.Spec.Auth.Account
		scfg.Changed = func(resource, id string) {
			if resource == account && a.Accounts != nil {
				a.Accounts.AccountChanged(id)
			}
		}
	}
	var err error
	if a.Service, err = service.New(scfg, a.Store); err != nil {
		return err
	}
	return a.extend(cfg.Extensions)
}

func (a *App) build(ctx context.Context, cfg Config) error {
	if a.Spec.Auth == nil {
		if err := a.newFiles(cfg, nil); err != nil {
			return err
		}
		return a.newService(cfg, nil)
	}
	secret, err := authSecret(cfg)
	if err != nil {
		return err
	}
	a.mailKey = derive(secret, "kiln-mail-jobs")
	if err := a.newFiles(cfg, derive(secret, "kiln-file-urls")); err != nil {
		return err
	}
	hasher, err := auth.NewHasher(auth.DefaultArgon2, 0)
	if err != nil {
		return err
	}
	if err := a.newService(cfg, hasher); err != nil {
		return err
	}
	au := a.Spec.Auth
	keys, err := signingKeys(cfg, secret)
	if err != nil {
		return err
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{Issuer: au.Issuer, Audience: au.Audience, TTL: au.AccessTTL, Keys: keys})
	if err != nil {
		return err
	}
	revoked, err := a.revocations(ctx, cfg)
	if err != nil {
		return err
	}
	sessions, err := auth.NewSessions(auth.SessionConfig{Secret: derive(secret, "kiln-refresh-token"), TTL: au.RefreshTTL,
		Grace: au.RefreshGrace, Revocations: revoked}, a.Store)
	if err != nil {
		return err
	}
	a.Accounts, err = auth.NewAccounts(auth.AccountsConfig{Spec: a.Spec, Service: a.Service, Store: a.Store,
		Tokens: tokens, Sessions: sessions, Hasher: hasher, Keys: auth.NewKeys(a.Store, nil), Logger: cfg.Logger,
		Mailer: a.accountMailer(), Redis: a.redis, RedisPrefix: a.Spec.Redis.Prefix,
		Revocations: revoked})
	if err != nil {
		return err
	}
	a.closers = append(a.closers, a.Accounts.Close)
	a.oidc = auth.NewOIDC(a.Spec, a.Accounts, derive(secret, "kiln-oauth-state"), nil)
	return nil
}

// revocations builds the list of revoked sessions and changed accounts and, in a process that
// checks tokens, starts keeping it current (docs/scaling.md).
func (a *App) revocations(ctx context.Context, cfg Config) (*revocation.List, error) {
	list := revocation.New(revocation.Config{Store: a.Store, Logger: cfg.Logger,
		Retain: a.Spec.Auth.AccessTTL + 2*time.Minute, // the token lifetime, its clock leeway and a margin
		OnAccount: func(id string) {
			if a.Accounts != nil {
				a.Accounts.Forget(id)
			}
		}})
	if cfg.NoTokens {
		return list, nil // records revocations (kiln users disable) but checks no tokens
	}
	if err := list.Start(ctx); err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	a.closers = append(a.closers, list.Close)
	return list, nil
}

func authSecret(cfg Config) ([]byte, error) {
	secret := cfg.AuthSecret
	if secret == "" && cfg.LookupEnv != nil {
		secret, _ = cfg.LookupEnv("KILN_AUTH_SECRET")
	}
	switch {
	case len(secret) >= auth.MinSecretLen:
		return []byte(secret), nil
	case secret != "":
		return nil, fmt.Errorf("KILN_AUTH_SECRET must be at least %d bytes", auth.MinSecretLen)
	case !cfg.Dev && !cfg.NoTokens:
		return nil, ErrNoAuthSecret
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if !cfg.NoTokens {
		cfg.Logger.Warn("dev mode: signing tokens with a temporary secret; sessions end when the server stops")
	}
	return b, nil
}

// derive gives each use of the secret its own key.
func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// outboxDir is where the development mail sender writes messages: KILN_MAIL_OUTBOX, or
// outbox/ in the data dir.
func outboxDir(cfg Config) string {
	if d, ok := cfg.LookupEnv("KILN_MAIL_OUTBOX"); ok && d != "" {
		return d
	}
	return filepath.Join(cfg.DataDir, "outbox")
}

// signingKeys are the access-token keys: Ed25519 keys from KILN_AUTH_ED25519_KEYS
// ("kid:base64-seed,kid:base64-seed", the first signs, all verify, published as JWKS), or an
// HS256 key derived from the secret.
func signingKeys(cfg Config, secret []byte) ([]auth.Key, error) {
	if files, _ := cfg.LookupEnv("KILN_AUTH_RSA_KEY_FILES"); strings.TrimSpace(files) != "" {
		return rsaKeys(files)
	}
	list, _ := cfg.LookupEnv("KILN_AUTH_ED25519_KEYS")
	if strings.TrimSpace(list) == "" {
		return []auth.Key{{ID: "hs1", Secret: derive(secret, "kiln-access-token")}}, nil
	}
	var keys []auth.Key
	for _, item := range strings.Split(list, ",") {
		kid, seed64, ok := strings.Cut(strings.TrimSpace(item), ":")
		seed, err := base64.StdEncoding.DecodeString(seed64)
		if !ok || kid == "" || err != nil || len(seed) != ed25519.SeedSize {
			return nil, errors.New("KILN_AUTH_ED25519_KEYS: want kid:base64-of-a-32-byte-seed, comma-separated")
		}
		keys = append(keys, auth.Key{ID: kid, Private: ed25519.NewKeyFromSeed(seed)})
	}
	return keys, nil
}

// rsaKeys reads RS256 keys from KILN_AUTH_RSA_KEY_FILES ("kid:/path/key.pem,…", PKCS#8 or
// PKCS#1 PEM; the first signs, all verify).
func rsaKeys(list string) ([]auth.Key, error) {
	var keys []auth.Key
	for _, item := range strings.Split(list, ",") {
		kid, path, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok || kid == "" {
			return nil, errors.New("KILN_AUTH_RSA_KEY_FILES: want kid:/path/to/key.pem, comma-separated")
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("RSA key %s: %w", kid, err)
		}
		block, _ := pem.Decode(raw)
		if block == nil {
			return nil, fmt.Errorf("RSA key %s: not PEM", kid)
		}
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			parsed, err8 := x509.ParsePKCS8PrivateKey(block.Bytes)
			k, ok := parsed.(*rsa.PrivateKey)
			if err8 != nil || !ok {
				return nil, fmt.Errorf("RSA key %s: not an RSA private key", kid)
			}
			key = k
		}
		keys = append(keys, auth.Key{ID: kid, RSA: key})
	}
	return keys, nil
}
