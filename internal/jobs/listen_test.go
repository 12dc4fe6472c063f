package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

func TestPaceWaitsLongerWhileNothingArrives(t *testing.T) {
	ms := time.Millisecond
	p := newPace(50*ms, time.Second)
	clock := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return clock }
	d, _ := p.untilDue()
	assert.LessOrEqual(t, d, time.Duration(0), "the first read is at once")
	var got []time.Duration
	for range 7 {
		p.missed()
		got = append(got, p.due.Sub(clock))
	}
	assert.Equal(t, []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}, got)

	d, awake := p.untilDue()
	assert.Equal(t, time.Second, d)
	p.wake()
	select {
	case <-awake:
	default:
		t.Fatal("wake did not end the wait in progress")
	}
	d, awake = p.untilDue()
	assert.LessOrEqual(t, d, time.Duration(0), "a wake makes the listener read at once")
	select {
	case <-awake:
		t.Fatal("a wake ends only the waits in progress")
	default:
	}
	p.missed()
	assert.Equal(t, 50*ms, p.due.Sub(clock), "and then read again soon")

	p.missed()
	p.heard()
	d, _ = p.untilDue()
	assert.LessOrEqual(t, d, time.Duration(0), "after a notification the listener reads again at once")
	p.missed()
	assert.Equal(t, 50*ms, p.due.Sub(clock))
}

func TestRelayWaitsLongerWhileNothingIsStaged(t *testing.T) {
	ms := time.Millisecond
	assert.Equal(t, 200*ms, nextRelayWait(relayPoll, false))
	assert.Equal(t, relayIdle, nextRelayWait(800*ms, false))
	assert.Equal(t, relayIdle, nextRelayWait(relayIdle, false))
	assert.Equal(t, relayPoll, nextRelayWait(relayIdle, true), "a pass that moved jobs looks again soon")
}

// With the producers' poll and the listener's next read an hour away, only the wake after
// commit (or after a cancel) can bring a job to a worker, or a cancel to a running job —
// and the wake must work while every reader connection is taken by requests.
func TestSQLiteWorkersHearOfCommittedJobsWithoutPolling(t *testing.T) {
	ctx := context.Background()
	const readers = 2
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db"), MaxReaders: readers}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	ran, stopped := make(chan int, 1), make(chan error, 1)
	q, err := New(Config{Store: st, PollInterval: time.Hour, RescueAfter: 2 * time.Hour, StatsInterval: -1,
		Kinds: []Kind{
			{Name: "ok", Handle: func(ctx context.Context, j *Job) error { ran <- len(j.Args); return nil }},
			{Name: "slow", Handle: func(ctx context.Context, j *Job) error {
				ran <- 0
				<-ctx.Done()
				stopped <- ctx.Err()
				return ctx.Err()
			}},
		}})
	require.NoError(t, err)
	require.NoError(t, q.Migrate(ctx))
	require.NotNil(t, q.pace, "SQLite's listener is paced")
	asleep := func() { // as after an idle hour: the next read an hour away
		q.pace.mu.Lock()
		defer q.pace.mu.Unlock()
		q.pace.idle, q.pace.wait, q.pace.due = time.Hour, time.Hour, time.Now().Add(time.Hour)
	}
	asleep()
	require.NoError(t, q.Start(ctx))
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	defer holdReaders(t, st, readers)()

	waitRan := func(what string) {
		select {
		case <-ran:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s was not run: the listener was not woken after its commit", what)
		}
		asleep()
		// River notifies inserts into a queue at most once per FetchCooldown (5 ms): an
		// insert right after a notified one waits for the producers' poll, here as anywhere.
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 3 {
		_, err := q.Enqueue(ctx, Request{Kind: "ok", Args: map[string]int{"n": i}})
		require.NoError(t, err)
		waitRan(fmt.Sprintf("job %d", i))
	}
	id, err := q.Enqueue(ctx, Request{Kind: "slow", Args: map[string]int{}})
	require.NoError(t, err)
	waitRan("the slow job")
	_, err = q.Cancel(ctx, id)
	require.NoError(t, err)
	select {
	case err := <-stopped:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("the running job did not hear of its cancel")
	}
}

// holdReaders takes the n connections of st's reader pool (rows left open) until the
// returned func runs.
func holdReaders(t *testing.T, st *store.Store, n int) func() {
	t.Helper()
	var held []interface{ Close() error }
	for range n {
		rows, err := st.Reader().QueryRaw(context.Background(), "SELECT 1 UNION ALL SELECT 2")
		require.NoError(t, err)
		held = append(held, rows)
	}
	return func() {
		for _, r := range held {
			_ = r.Close()
		}
	}
}
