package auth

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// fastArgon2 keeps tests quick; the production defaults are checked for their shape only.
var fastArgon2 = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewHasher(fastArgon2, 2)
	require.NoError(t, err)
	enc, err := h.Hash(ctx, "correct horse")
	require.NoError(t, err)
	require.Regexp(t, `^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`, enc)
	other, _ := h.Hash(ctx, "correct horse")
	require.NotEqual(t, enc, other, "salted")

	ok, rehash, err := h.Verify(ctx, "correct horse", enc)
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, rehash)
	ok, _, err = h.Verify(ctx, "wrong", enc)
	require.NoError(t, err)
	require.False(t, ok)

	stronger, err := NewHasher(Argon2Params{MemoryKiB: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	require.NoError(t, err)
	ok, rehash, err = stronger.Verify(ctx, "correct horse", enc)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, rehash, "old parameters are upgraded on login")
}

func TestBcryptImportsVerifyAndAskForRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewHasher(fastArgon2, 1)
	require.NoError(t, err)
	b, err := bcrypt.GenerateFromPassword([]byte("imported"), bcrypt.MinCost)
	require.NoError(t, err)
	ok, rehash, err := h.Verify(ctx, "imported", string(b))
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, rehash)
	ok, rehash, err = h.Verify(ctx, "nope", string(b))
	require.NoError(t, err)
	require.False(t, ok)
	require.False(t, rehash)
}

func TestVerifyRejectsHostileHashes(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(fastArgon2, 1)
	require.NoError(t, err)
	for _, enc := range []string{"", "plain", "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdA$a2V5", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5"} {
		ok, _, _ := h.Verify(context.Background(), "x", enc)
		require.False(t, ok, enc)
	}
	_, err = h.Hash(context.Background(), string(make([]byte, MaxPasswordLen+1)))
	require.ErrorIs(t, err, ErrPasswordTooLong)
}

func TestDefaultsAreOWASP(t *testing.T) {
	t.Parallel()
	require.Equal(t, uint32(19456), DefaultArgon2.MemoryKiB)
	require.Equal(t, uint32(2), DefaultArgon2.Time)
	require.Equal(t, uint8(1), DefaultArgon2.Threads)
}

func TestDummyHashCostsAVerificationAndMatchesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewHasher(fastArgon2, 1)
	require.NoError(t, err)
	require.Regexp(t, `^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`, h.dummy)
	for _, pw := range []string{"", "kiln-timing-equalizer", "correct horse"} {
		ok, rehash, err := h.Verify(ctx, pw, h.dummy)
		require.NoError(t, err, "the dummy parses as a real hash, so it costs a real verification")
		require.False(t, ok)
		require.False(t, rehash)
	}
	other, err := NewHasher(fastArgon2, 1)
	require.NoError(t, err)
	require.NotEqual(t, h.dummy, other.dummy, "random per hasher")
}
