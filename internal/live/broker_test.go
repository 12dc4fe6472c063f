package live

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

type testBundle struct {
	st     *store.Store
	broker *Broker
}

func setup(t *testing.T, buffer int) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	m := migrate.New(migrate.Config{Dir: filepath.Join(t.TempDir(), "migrations")}, st)
	require.NoError(t, m.Dev(ctx, migrate.FromSpec(&spec.Spec{}), false, nil))
	b, err := New(Config{Store: st, Buffer: buffer, Poll: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return &testBundle{st: st, broker: b}
}

// appendEvents commits n events of resource in one transaction and wakes the broker.
func (tb *testBundle) appendEvents(t *testing.T, resource string, n int) {
	t.Helper()
	require.NoError(t, tb.st.InTx(context.Background(), func(tx *store.Exec) error {
		for range n {
			ev := &events.Event{Resource: resource, Operation: events.OpCreate, RecordID: "r", New: []byte(`{}`), At: time.Now()}
			if err := events.Append(context.Background(), tx, ev); err != nil {
				return err
			}
		}
		return nil
	}))
	tb.broker.Wake()
}

func waitDone(t *testing.T, s *Sub) error {
	t.Helper()
	select {
	case <-s.Done():
		return s.Err()
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not end")
	}
	return nil
}

func TestBrokerHandsOutEventsOfTheResourceInOrder(t *testing.T) {
	t.Parallel()
	tb := setup(t, 10)
	sub, err := tb.broker.Subscribe(context.Background(), "a")
	require.NoError(t, err)
	tb.appendEvents(t, "b", 2)
	tb.appendEvents(t, "a", 3)
	var last int64
	for range 3 {
		ev := <-sub.Events()
		require.Equal(t, "a", ev.Resource)
		require.Greater(t, ev.ID, last)
		last = ev.ID
	}
	require.NoError(t, sub.Err())
}

// A subscriber that does not take its events is dropped once its buffer is full, rather
// than holding them all in memory; the others go on.
func TestBrokerDropsALaggingSubscriber(t *testing.T) {
	t.Parallel()
	tb := setup(t, 2)
	slow, err := tb.broker.Subscribe(context.Background(), "a")
	require.NoError(t, err)
	other, err := tb.broker.Subscribe(context.Background(), "b")
	require.NoError(t, err)
	tb.appendEvents(t, "a", 5)
	require.ErrorIs(t, waitDone(t, slow), ErrLagging)
	tb.appendEvents(t, "b", 1)
	require.Equal(t, "b", (<-other.Events()).Resource)
	require.NoError(t, other.Err())
}

// Close ends every subscription (the server shuts down) and refuses new ones.
func TestBrokerCloseEndsSubscriptions(t *testing.T) {
	t.Parallel()
	tb := setup(t, 2)
	sub, err := tb.broker.Subscribe(context.Background(), "a")
	require.NoError(t, err)
	require.NoError(t, tb.broker.Close())
	require.ErrorIs(t, waitDone(t, sub), ErrClosed)
	_, err = tb.broker.Subscribe(context.Background(), "a")
	require.ErrorIs(t, err, ErrClosed)
}

// The poller looks again within 2 ms while committed events wait for transactions writing
// events, less often the longer they wait, and a few times after a wake that found nothing.
func TestRetryPausesOfThePoller(t *testing.T) {
	t.Parallel()
	r := retry{tries: hotTries}
	require.Equal(t, 2*time.Millisecond, r.next(3, true), "the horizon moved: at once")
	require.Equal(t, 4*time.Millisecond, r.next(0, true))
	require.Equal(t, 6*time.Millisecond, r.next(0, true))
	for range 20 {
		r.next(0, true)
	}
	require.Equal(t, 20*time.Millisecond, r.next(0, true), "at most 20 ms apart")
	require.Equal(t, 2*time.Millisecond, r.next(1, true))
	require.Equal(t, 10*time.Millisecond, r.next(0, false), "nothing waits: the wake's quick reads")
	require.Equal(t, 20*time.Millisecond, r.next(0, false))
	require.Equal(t, time.Duration(0), r.next(2, false), "found some: no quick reads left")
	require.Equal(t, time.Duration(0), r.next(0, false))
}
