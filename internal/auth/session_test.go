package auth_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

const authSpec = "roles: [admin, member]\nauth: {account: users}\nresources:\n  users:\n    fields:\n      name: string\n"

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type testBundle struct {
	sessions *auth.Sessions
	clock    *clock
}

func setup(t *testing.T, dialect string) *testBundle {
	t.Helper()
	ctx := context.Background()
	s, err := spec.Parse("k.yaml", []byte(authSpec), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	cfg := store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}
	if dialect == "postgres" {
		cfg.URL = testdb.PostgresURL(t)
	}
	st, err := store.Open(ctx, cfg, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, migrate.New(migrate.Config{Dir: t.TempDir()}, st).Dev(ctx, migrate.FromSpec(s), false, nil))
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	sess, err := auth.NewSessions(auth.SessionConfig{Secret: []byte("0123456789abcdef0123456789abcdef"), TTL: time.Hour,
		Grace: 10 * time.Second, Now: c.Now}, st)
	require.NoError(t, err)
	return &testBundle{sessions: sess, clock: c}
}

func eachDialect(t *testing.T, fn func(t *testing.T, b *testBundle)) {
	for _, d := range testdb.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, d))
		})
	}
}

func TestRotationAndReuseDetection(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, b *testBundle) {
		ctx := context.Background()
		first, err := b.sessions.Start(ctx, "acct-1")
		require.NoError(t, err)
		second, err := b.sessions.Rotate(ctx, first.Token)
		require.NoError(t, err)
		require.NotEqual(t, first.Token, second.Token)
		require.Equal(t, first.FamilyID, second.FamilyID)

		b.clock.Advance(5 * time.Second)
		again, err := b.sessions.Rotate(ctx, first.Token)
		require.NoError(t, err, "inside the grace window a rotated token yields the same successor")
		require.Equal(t, second.Token, again.Token)
		require.Equal(t, second.IssuedAt, again.IssuedAt)

		b.clock.Advance(10 * time.Second)
		_, err = b.sessions.Rotate(ctx, first.Token)
		require.ErrorIs(t, err, auth.ErrRefreshReused)
		_, err = b.sessions.Rotate(ctx, second.Token)
		require.ErrorIs(t, err, auth.ErrInvalidRefresh, "reuse revoked the whole family")
		active, err := b.sessions.Active(ctx, first.FamilyID)
		require.NoError(t, err)
		require.False(t, active)
	})
}

func TestLogoutExpiryAndUnknownTokens(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, b *testBundle) {
		ctx := context.Background()
		s, err := b.sessions.Start(ctx, "acct-1")
		require.NoError(t, err)
		require.NoError(t, b.sessions.Revoke(ctx, s.Token))
		require.NoError(t, b.sessions.Revoke(ctx, s.Token), "logging out twice is fine")
		_, err = b.sessions.Rotate(ctx, s.Token)
		require.ErrorIs(t, err, auth.ErrInvalidRefresh)

		old, err := b.sessions.Start(ctx, "acct-1")
		require.NoError(t, err)
		b.clock.Advance(time.Hour + time.Second)
		_, err = b.sessions.Rotate(ctx, old.Token)
		require.ErrorIs(t, err, auth.ErrInvalidRefresh, "expired")

		for _, tok := range []string{"", "nope", string(make([]byte, 300))} {
			_, err = b.sessions.Rotate(ctx, tok)
			require.ErrorIs(t, err, auth.ErrInvalidRefresh)
		}
	})
}

func TestConcurrentRefreshesAgree(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, b *testBundle) {
		ctx := context.Background()
		s, err := b.sessions.Start(ctx, "acct-1")
		require.NoError(t, err)
		var wg sync.WaitGroup
		tokens := make([]string, 6)
		errs := make([]error, 6)
		for i := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next, err := b.sessions.Rotate(ctx, s.Token)
				errs[i] = err
				if err == nil {
					tokens[i] = next.Token
				}
			}()
		}
		wg.Wait()
		for i := range tokens {
			require.NoError(t, errs[i])
			require.Equal(t, tokens[0], tokens[i])
		}
	})
}

func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, b *testBundle) {
		ctx := context.Background()
		keep, err := b.sessions.Start(ctx, "acct-1")
		require.NoError(t, err)
		other, err := b.sessions.Start(ctx, "acct-1")
		require.NoError(t, err)
		someoneElse, err := b.sessions.Start(ctx, "acct-2")
		require.NoError(t, err)
		require.NoError(t, b.sessions.RevokeAccount(ctx, "acct-1", keep.FamilyID))
		_, err = b.sessions.Rotate(ctx, other.Token)
		require.ErrorIs(t, err, auth.ErrInvalidRefresh)
		_, err = b.sessions.Rotate(ctx, keep.Token)
		require.NoError(t, err)
		_, err = b.sessions.Rotate(ctx, someoneElse.Token)
		require.NoError(t, err)
	})
}
