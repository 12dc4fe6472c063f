package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// A poke after a commit reaches the channel's listeners; a burst of pokes makes a few
// notifications, not one each; the poke just before Close is still sent.
func TestNotifierWakesListenersAndCoalesces(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, store.Config{URL: testdb.PostgresURL(t)}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	var heard atomic.Int64
	go func() { _ = st.Listen(ctx, "kiln_notifier_test", func() { heard.Add(1) }) }()
	n := st.NewNotifier("kiln_notifier_test")
	require.Eventually(t, func() bool { n.Poke(); return heard.Load() > 0 }, 10*time.Second, 20*time.Millisecond,
		"a poke reaches the listener (once its LISTEN is in place)")
	time.Sleep(300 * time.Millisecond)
	base, closed := heard.Load(), st.Writer().Stats().MaxIdleClosed
	for range 2000 {
		n.Poke()
	}
	require.Eventually(t, func() bool { return heard.Load() > base }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	burst := heard.Load() - base
	require.Less(t, burst, int64(200), "2000 pokes coalesce into a few notifications")

	// A steady stream of commits (a poke every 100 µs for 300 ms, as a busy writer makes)
	// sends at most one notification per gap, not one per poke.
	base = heard.Load()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		n.Poke()
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(300 * time.Millisecond)
	steady := heard.Load() - base
	require.Positive(t, steady)
	require.LessOrEqual(t, steady, int64(300*time.Millisecond/store.NotifyGap)+5, "one notification per gap at most")
	require.Equal(t, closed, st.Writer().Stats().MaxIdleClosed,
		"a notification goes straight to pgx's pool: it opens and closes no database/sql connection")

	base = heard.Load()
	n.Poke()
	require.NoError(t, n.Close())
	require.Eventually(t, func() bool { return heard.Load() > base }, 10*time.Second, 10*time.Millisecond, "sent before Close returned")
	n.Poke() // after Close: nothing, and no panic
}

// On SQLite a notifier does nothing and closes at once.
func TestNotifierOnSQLiteIsANoOp(t *testing.T) {
	t.Parallel()
	st, err := store.Open(context.Background(), store.Config{SQLitePath: t.TempDir() + "/k.db"}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	n := st.NewNotifier("x")
	n.Poke()
	require.NoError(t, n.Close())
}
