package revocation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/revocation"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

const authSpec = `roles: [admin, member]
auth:
  account: users
  default_role: member
resources:
  users:
    fields:
      name: string
`

// testBundle holds two stores on one database: two instances' views of it.
type testBundle struct {
	a, b *store.Store
}

func setup(t *testing.T, dialect string) *testBundle {
	t.Helper()
	s, err := spec.Parse("kiln.yaml", []byte(authSpec), spec.ParseOpts{})
	require.NoError(t, err)
	cfg := store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}
	if dialect == "postgres" {
		cfg = store.Config{URL: testdb.PostgresURL(t)}
	}
	open := func() *store.Store {
		st, err := store.Open(context.Background(), cfg, s)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	b := &testBundle{a: open(), b: open()}
	m := migrate.New(migrate.Config{Dir: t.TempDir()}, b.a)
	require.NoError(t, m.Dev(context.Background(), migrate.FromSpec(s), false, nil))
	return b
}

func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range testdb.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

var t0 = time.Unix(1_800_000_000, 0)

// A revocation recorded by one instance reaches another: at once through NOTIFY on
// PostgreSQL, through the poll on SQLite.
func TestRevocationReachesAnotherInstance(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect)
		changed := make(chan string, 10)
		writer := revocation.New(revocation.Config{Store: b.a})
		reader := revocation.New(revocation.Config{Store: b.b, Poll: 50 * time.Millisecond,
			OnAccount: func(id string) { changed <- id }})
		require.NoError(t, reader.Start(context.Background()))
		t.Cleanup(func() { _ = reader.Close() })
		ctx := context.Background()

		revoked, err := reader.Revoked(ctx, "s1", "acct", t0)
		require.NoError(t, err)
		require.False(t, revoked)
		require.NoError(t, writer.Record(ctx, revocation.Entry{Kind: revocation.KindSession, Subject: "s1", At: time.Now()},
			revocation.Entry{Kind: revocation.KindAccount, Subject: "acct", At: time.Now()}))
		require.Eventually(t, func() bool {
			revoked, err := reader.Revoked(ctx, "s1", "acct", t0)
			return err == nil && revoked
		}, 5*time.Second, 5*time.Millisecond)
		require.Equal(t, "acct", <-changed, "the account entry reached the other instance's caches")
		revoked, _ = writer.Revoked(ctx, "s1", "acct", t0)
		require.True(t, revoked, "the writer refuses at once")
		revoked, _ = reader.Revoked(ctx, "s2", "acct", t0)
		require.False(t, revoked, "an account entry alone refuses no token")
	})
}

// A cutoff refuses an account's tokens issued before its second, not later ones.
func TestCutoffRefusesOlderTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	l := revocation.New(revocation.Config{Store: b.a})
	cut := time.Now().Truncate(time.Second).Add(500 * time.Millisecond)
	require.NoError(t, l.Record(context.Background(), revocation.Entry{Kind: revocation.KindAccountTokens, Subject: "acct", At: cut}))
	for iat, want := range map[time.Time]bool{
		cut.Add(-time.Hour): true, cut.Truncate(time.Second).Add(-time.Second): true,
		cut.Truncate(time.Second): false, cut.Truncate(time.Second).Add(time.Second): false,
	} {
		got, err := l.Revoked(context.Background(), "", "acct", iat)
		require.NoError(t, err)
		require.Equal(t, want, got, "issued %s", iat)
	}
	got, _ := l.Revoked(context.Background(), "", "other", cut.Add(-time.Hour))
	require.False(t, got)
}

// Without its background reader (or with it stuck), a list older than the bound reads the
// table on the request itself: the bound holds whatever happens to NOTIFY and the poll.
func TestStaleListReadsTheTableItself(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect)
		now := time.Now()
		clock := func() time.Time { return now }
		reader := revocation.New(revocation.Config{Store: b.b, Bound: 5 * time.Second, Now: clock})
		require.NoError(t, reader.Sync(context.Background())) // never started: nothing polls
		writer := revocation.New(revocation.Config{Store: b.a})
		require.NoError(t, writer.Record(context.Background(), revocation.Entry{Kind: revocation.KindSession, Subject: "s", At: time.Now()}))
		revoked, _ := reader.Revoked(context.Background(), "s", "a", t0)
		require.False(t, revoked, "within the bound the view may lag")
		now = now.Add(5 * time.Second)
		revoked, err := reader.Revoked(context.Background(), "s", "a", t0)
		require.NoError(t, err)
		require.True(t, revoked, "past the bound it may not")
	})
}

// Writers on many connections at once get distinct, gap-free sequence numbers, so a reader
// that saw number n has seen every entry below it.
func TestConcurrentWritersKeepCommitOrder(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := b.a
				if i%2 == 1 {
					st = b.b
				}
				l := revocation.New(revocation.Config{Store: st})
				errs <- l.Record(context.Background(), revocation.Entry{Kind: revocation.KindSession, Subject: fmt.Sprint(i), At: time.Now()})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		rows, err := b.a.Reader().QueryRaw(context.Background(), "SELECT COUNT(*), MIN(seq), MAX(seq) FROM kiln_revocations")
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, rows.Next())
		var n, lo, hi int
		require.NoError(t, rows.Scan(&n, &lo, &hi))
		require.Equal(t, []int{40, 1, 40}, []int{n, lo, hi})
		l := revocation.New(revocation.Config{Store: b.b})
		require.NoError(t, l.Sync(context.Background()))
		for i := range 40 {
			revoked, _ := l.Revoked(context.Background(), fmt.Sprint(i), "", t0)
			require.True(t, revoked, "session %d", i)
		}
	})
}
