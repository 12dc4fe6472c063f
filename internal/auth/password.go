// Package auth holds Kiln's credentials machinery: password hashing (argon2id, with bcrypt
// hashes accepted for imported accounts and upgraded on login), signed access tokens (JWT)
// and rotating refresh-token sessions. Transports and the service call it; it decides
// nothing about resources.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are argon2id's cost settings. The defaults are OWASP's: 19 MiB, 2 passes, 1 lane.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   int
	KeyLen    uint32
}

// DefaultArgon2 is OWASP's recommended argon2id configuration (~50 ms and 19 MiB per hash here).
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// MaxPasswordLen bounds what is hashed, in bytes (hashing cost is fixed, but input reading is not).
const MaxPasswordLen = 1024

// ErrPasswordTooLong means a password is over MaxPasswordLen.
var ErrPasswordTooLong = errors.New("password too long")

// Hasher hashes and verifies passwords, bounding how many hashes run at once: each takes
// ~19 MiB, so unbounded concurrency is a memory exhaustion vector.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
	dummy  string
}

// NewHasher makes a Hasher running at most concurrent hashes at once (default 4).
func NewHasher(params Argon2Params, concurrent int) (*Hasher, error) {
	if concurrent <= 0 {
		concurrent = 4
	}
	dummy, err := dummyHash(params)
	if err != nil {
		return nil, err
	}
	return &Hasher{params: params, slots: make(chan struct{}, concurrent), dummy: dummy}, nil
}

// dummyHash is a well-formed argon2id hash with the given parameters that no password
// matches: a random salt and a random key. Verifying against it costs exactly what verifying
// against a real hash costs, without spending a hash (~50 ms and 19 MiB held by the heap
// afterwards) at start-up.
func dummyHash(p Argon2Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	key := make([]byte, p.KeyLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("key: %w", err)
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the PHC string of password: $argon2id$v=19$m=...,t=...,p=...$salt$key.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordLen {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks password against an encoded hash (argon2id PHC or bcrypt). rehash says the
// hash should be replaced by Hash's output: it is bcrypt, or argon2id with other parameters.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	if len(password) > MaxPasswordLen {
		return false, false, nil
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return h.verifyArgon2(password, encoded)
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, false, nil
		}
		return err == nil, err == nil, err
	}
	return false, false, errors.New("unknown password hash format")
}

// VerifyDummy spends the time of one verification, so a login for an unknown account takes
// as long as one with a wrong password.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	_, _, _ = h.Verify(ctx, password, h.dummy)
}

func (h *Hasher) verifyArgon2(password, encoded string) (bool, bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return false, false, errors.New("malformed argon2id hash")
	}
	var version int
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, false, errors.New("unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, false, errors.New("malformed argon2id parameters")
	}
	if p.MemoryKiB > 1<<20 || p.Time > 16 || p.Threads == 0 || p.Time == 0 {
		return false, false, errors.New("argon2id parameters out of range")
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false, false, errors.New("malformed argon2id hash")
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	ok := subtle.ConstantTimeCompare(got, want) == 1
	cur := h.params
	rehash := ok && (p.MemoryKiB != cur.MemoryKiB || p.Time != cur.Time || p.Threads != cur.Threads || uint32(len(want)) != cur.KeyLen)
	return ok, rehash, nil
}
