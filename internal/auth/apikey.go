package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/store"
)

// KeyPrefix starts every API key, so keys are told apart from JWTs and found by scanners.
const KeyPrefix = "kiln_"

// ErrInvalidKey is every rejected API key: unknown, wrong secret, revoked or expired.
var ErrInvalidKey = errors.New("invalid API key")

// APIKey is a key's stored description; its secret is shown once, at creation.
type APIKey struct {
	ID        string
	Prefix    string // visible part: kiln_<8 chars>
	Name      string
	Role      string
	Scopes    []string // resource:action, resource:read (list, view), resource:write, or resource:*
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt *time.Time
	LastUsed  *time.Time
	Revoked   bool
}

// Allows reports whether the key's scopes cover an action on a resource.
func (k *APIKey) Allows(resource, action string) bool {
	return service.ScopeAllows(k.Scopes, resource, action)
}

// Keys stores and checks API keys.
type Keys struct {
	st  *store.Store
	now func() time.Time
}

// NewKeys makes the key store; now defaults to time.Now.
func NewKeys(st *store.Store, now func() time.Time) *Keys {
	if now == nil {
		now = time.Now
	}
	return &Keys{st: st, now: now}
}

func keyHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Create stores a new key and returns it with its full secret (shown once).
func (k *Keys) Create(ctx context.Context, key APIKey, ttl time.Duration) (*APIKey, string, error) {
	var id [4]byte
	var b [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, "", fmt.Errorf("api key: %w", err)
	}
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", fmt.Errorf("api key: %w", err)
	}
	key.ID = uuid.Must(uuid.NewV7()).String()
	// The visible part is hex, so the first "_" after kiln_ always ends it.
	key.Prefix = KeyPrefix + hex.EncodeToString(id[:])
	secret := key.Prefix + "_" + base64.RawURLEncoding.EncodeToString(b[:])
	key.CreatedAt = k.now()
	var expires any
	if ttl > 0 {
		t := key.CreatedAt.Add(ttl)
		key.ExpiresAt, expires = &t, t.UnixMicro()
	}
	err := k.st.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "INSERT INTO kiln_api_keys (id, prefix, secret_hash, name, role, scopes, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			key.ID, key.Prefix, keyHash(secret), key.Name, key.Role, strings.Join(key.Scopes, " "), key.CreatedBy, key.CreatedAt.UnixMicro(), expires)
	})
	if err != nil {
		return nil, "", fmt.Errorf("store api key: %w", err)
	}
	return &key, secret, nil
}

const keyColumns = "id, prefix, secret_hash, name, role, scopes, COALESCE(created_by, ''), created_at, COALESCE(expires_at, 0), COALESCE(last_used_at, 0), revoked_at IS NOT NULL"

func scanKey(rows interface{ Scan(...any) error }) (*APIKey, string, error) {
	var k APIKey
	var hash, scopes string
	var created, expires, used int64
	if err := rows.Scan(&k.ID, &k.Prefix, &hash, &k.Name, &k.Role, &scopes, &k.CreatedBy, &created, &expires, &used, &k.Revoked); err != nil {
		return nil, "", err
	}
	k.Scopes = strings.Fields(scopes)
	k.CreatedAt = time.UnixMicro(created).UTC()
	if expires > 0 {
		t := time.UnixMicro(expires).UTC()
		k.ExpiresAt = &t
	}
	if used > 0 {
		t := time.UnixMicro(used).UTC()
		k.LastUsed = &t
	}
	return &k, hash, nil
}

// Verify checks a full key and returns it; it records the use at most once a minute.
func (k *Keys) Verify(ctx context.Context, secret string) (*APIKey, error) {
	prefix, _, ok := strings.Cut(strings.TrimPrefix(secret, KeyPrefix), "_")
	if !strings.HasPrefix(secret, KeyPrefix) || !ok || len(secret) > 128 {
		return nil, ErrInvalidKey
	}
	rows, err := k.st.Reader().QueryRaw(ctx, "SELECT "+keyColumns+" FROM kiln_api_keys WHERE prefix = ?", KeyPrefix+prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, ErrInvalidKey
	}
	key, hash, err := scanKey(rows)
	if err != nil {
		return nil, err
	}
	now := k.now()
	if subtle.ConstantTimeCompare([]byte(hash), []byte(keyHash(secret))) != 1 || key.Revoked ||
		(key.ExpiresAt != nil && !now.Before(*key.ExpiresAt)) {
		return nil, ErrInvalidKey
	}
	if key.LastUsed == nil || now.Sub(*key.LastUsed) > time.Minute {
		_ = k.st.InTx(ctx, func(tx *store.Exec) error {
			return tx.ExecRaw(ctx, "UPDATE kiln_api_keys SET last_used_at = ? WHERE id = ?", now.UnixMicro(), key.ID)
		})
	}
	return key, nil
}

// List returns every key, newest first.
func (k *Keys) List(ctx context.Context) ([]*APIKey, error) {
	rows, err := k.st.Reader().QueryRaw(ctx, "SELECT "+keyColumns+" FROM kiln_api_keys ORDER BY created_at DESC, id DESC")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*APIKey
	for rows.Next() {
		key, _, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, key)
	}
	return out, rows.Err()
}

// Revoke disables a key by id or prefix; it reports whether one was found.
func (k *Keys) Revoke(ctx context.Context, idOrPrefix string) (bool, error) {
	var n int64
	err := k.st.InTx(ctx, func(tx *store.Exec) error {
		var err error
		n, err = tx.ExecRawCount(ctx, "UPDATE kiln_api_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) AND revoked_at IS NULL",
			k.now().UnixMicro(), idOrPrefix, idOrPrefix)
		return err
	})
	return n > 0, err
}
