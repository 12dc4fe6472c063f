package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

type testBundle struct {
	st *store.Store
}

type opener func(t *testing.T) *store.Store

func TestQueueSQLite(t *testing.T) {
	t.Parallel()
	exercise(t, func(t *testing.T) *store.Store {
		st, err := store.Open(context.Background(), store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}, &spec.Spec{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

func TestQueuePostgres(t *testing.T) {
	t.Parallel()
	exercise(t, func(t *testing.T) *store.Store {
		st, err := store.Open(context.Background(), store.Config{URL: testdb.PostgresURL(t)}, &spec.Spec{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

// calls records a handler's attempts.
type calls struct {
	mu     sync.Mutex
	log    bytes.Buffer               // the queue's log, as JSON lines
	times  map[string][]time.Time     // by the args' "key"
	delays map[string][]time.Duration // the retry delay each retried attempt was scheduled with
}

// addDelay records how long after its last failure the attempt was scheduled: the backoff
// itself, unlike the gap between pickups, which also holds the poller's latency.
func (c *calls) addDelay(j *jobs.Job) {
	if len(j.Errors) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.delays == nil {
		c.delays = map[string][]time.Duration{}
	}
	k := key(j)
	c.delays[k] = append(c.delays[k], j.ScheduledAt.Sub(j.Errors[len(j.Errors)-1].At))
}

func within(t *testing.T, d, lo, hi time.Duration, what string) {
	t.Helper()
	require.Truef(t, d >= lo && d <= hi, "%s: %v not in [%v, %v]", what, d, lo, hi)
}

func (c *calls) delaysOf(key string) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.delays[key]...)
}

func (c *calls) add(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.times == nil {
		c.times = map[string][]time.Time{}
	}
	c.times[key] = append(c.times[key], time.Now())
	return len(c.times[key])
}

func (c *calls) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.Write(p)
}

// logged counts the queue's log lines at level about job id.
func (c *calls) logged(level string, id int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, line := range strings.Split(c.log.String(), "\n") {
		if strings.Contains(line, `"level":"`+level+`"`) && strings.Contains(line, fmt.Sprintf(`"job_id":%d,`, id)) {
			n++
		}
	}
	return n
}

func (c *calls) of(key string) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.times[key]...)
}

type args struct {
	Key string `json:"key"`
}

func key(j *jobs.Job) string {
	var a args
	_ = json.Unmarshal(j.Args, &a)
	return a.Key
}

// newQueue builds a migrated, started queue with the kinds "ok", "flaky" (fails twice, then
// succeeds), "failing" (fails while failing is set) and "slow" (waits for release or its ctx).
func newQueue(t *testing.T, st *store.Store, c *calls, failing *atomic.Bool, release chan struct{}) *jobs.Queue {
	t.Helper()
	q, err := jobs.New(jobs.Config{Store: st, RetryBase: 400 * time.Millisecond, RetryMax: 5 * time.Second,
		PollInterval: 20 * time.Millisecond, RescueAfter: time.Hour, StatsInterval: -1,
		Queues: map[string]int{"default": 4, "other": 2}, Logger: slog.New(slog.NewJSONHandler(c, nil)),
		Kinds: []jobs.Kind{
			{Name: "ok", Handle: func(ctx context.Context, j *jobs.Job) error { c.add(key(j)); return nil }},
			{Name: "flaky", Handle: func(ctx context.Context, j *jobs.Job) error {
				c.addDelay(j)
				if c.add(key(j)) < 3 {
					return errors.New("not yet")
				}
				return nil
			}},
			{Name: "failing", Handle: func(ctx context.Context, j *jobs.Job) error {
				c.add(key(j))
				if failing.Load() {
					return errors.New("always fails")
				}
				return nil
			}},
			{Name: "gives_up", Handle: func(ctx context.Context, j *jobs.Job) error {
				c.add(key(j))
				return jobs.Permanent(errors.New("the record is gone"))
			}},
			{Name: "own_backoff", Backoff: func(int) time.Duration { return 700 * time.Millisecond },
				Handle: func(ctx context.Context, j *jobs.Job) error {
					if c.add(key(j)) < 2 {
						return errors.New("not yet")
					}
					return nil
				}},
			{Name: "busy_peer", Backoff: func(int) time.Duration { return 10 * time.Millisecond },
				Handle: func(ctx context.Context, j *jobs.Job) error {
					if c.add(key(j)) < 2 {
						return jobs.RetryAfter(errors.New("503"), time.Second)
					}
					return nil
				}},
			{Name: "slow", Timeout: 30 * time.Second, Handle: func(ctx context.Context, j *jobs.Job) error {
				c.add(key(j))
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}},
		}})
	require.NoError(t, err)
	require.NoError(t, q.Migrate(context.Background()))
	require.NoError(t, q.Migrate(context.Background()), "migrating twice is a no-op")
	return q
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jobState(t *testing.T, q *jobs.Queue, id int64) string {
	j, err := q.Get(context.Background(), id)
	require.NoError(t, err)
	return j.State
}

func exercise(t *testing.T, open opener) {
	setup := func(t *testing.T) (*testBundle, *jobs.Queue, *calls, *atomic.Bool, chan struct{}) {
		st := open(t)
		require.NoError(t, st.Writer().PingContext(context.Background()))
		c, failing, release := &calls{}, &atomic.Bool{}, make(chan struct{})
		q := newQueue(t, st, c, failing, release)
		return &testBundle{st: st}, q, c, failing, release
	}
	start := func(t *testing.T, q *jobs.Queue) {
		require.NoError(t, q.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			require.NoError(t, q.Stop(ctx))
		})
	}

	t.Run("JobCommitsAndRollsBackWithItsWrite", func(t *testing.T) {
		t.Parallel()
		b, q, c, _, _ := setup(t)
		ctx := context.Background()
		require.NoError(t, b.st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecDDL(ctx, "CREATE TABLE notes (id TEXT PRIMARY KEY)") }))
		boom := errors.New("boom")
		err := b.st.InTx(ctx, func(tx *store.Exec) error {
			if err := tx.ExecRaw(ctx, "INSERT INTO notes (id) VALUES (?)", "rolled"); err != nil {
				return err
			}
			if _, err := q.EnqueueTx(ctx, tx, jobs.Request{Kind: "ok", Args: args{Key: "rolled"}}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		var id int64
		require.NoError(t, b.st.InTx(ctx, func(tx *store.Exec) error {
			if err := tx.ExecRaw(ctx, "INSERT INTO notes (id) VALUES (?)", "kept"); err != nil {
				return err
			}
			id, err = q.EnqueueTx(ctx, tx, jobs.Request{Kind: "ok", Args: args{Key: "kept"}})
			return err
		}))
		list, err := q.List(ctx, jobs.ListOpts{})
		require.NoError(t, err)
		require.Len(t, list, 1, "only the committed write's job exists")
		require.Equal(t, id, list[0].ID)
		require.Equal(t, 10, list[0].MaxAttempts, "the default maximum of attempts")
		require.Equal(t, jobs.DefaultQueue, list[0].Queue)
		start(t, q)
		waitFor(t, "the job completed", func() bool { return jobState(t, q, id) == jobs.StateCompleted })
		require.Len(t, c.of("kept"), 1)
		require.Empty(t, c.of("rolled"))
	})

	t.Run("KindBackoffAndRetryAfterSetTheWait", func(t *testing.T) {
		t.Parallel()
		_, q, c, _, _ := setup(t)
		start(t, q)
		own, err := q.Enqueue(context.Background(), jobs.Request{Kind: "own_backoff", Args: args{Key: "own"}})
		require.NoError(t, err)
		busy, err := q.Enqueue(context.Background(), jobs.Request{Kind: "busy_peer", Args: args{Key: "busy"}})
		require.NoError(t, err)
		for _, id := range []int64{own, busy} {
			waitFor(t, "the job completed", func() bool { return jobState(t, q, id) == jobs.StateCompleted })
		}
		at := c.of("own")
		require.GreaterOrEqual(t, at[1].Sub(at[0]), 700*time.Millisecond, "the kind's backoff, not the queue's 400ms")
		at = c.of("busy")
		require.GreaterOrEqual(t, at[1].Sub(at[0]), time.Second, "Retry-After outlasts the kind's 10ms")
	})

	t.Run("FailingTwiceThenSucceedingTakesThreeAttemptsWithGrowingDelays", func(t *testing.T) {
		t.Parallel()
		_, q, c, _, _ := setup(t)
		start(t, q)
		id, err := q.Enqueue(context.Background(), jobs.Request{Kind: "flaky", Args: args{Key: "f"}, MaxAttempts: 5})
		require.NoError(t, err)
		waitFor(t, "the flaky job completed", func() bool { return jobState(t, q, id) == jobs.StateCompleted })
		j, err := q.Get(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, 3, j.Attempt)
		require.Len(t, j.Errors, 2)
		at := c.of("f")
		require.Len(t, at, 3)
		require.GreaterOrEqual(t, at[1].Sub(at[0]), 360*time.Millisecond, "no retry runs before its time")
		d := c.delaysOf("f")
		require.Len(t, d, 2)
		within(t, d[0], 360*time.Millisecond, 460*time.Millisecond, "the first retry waits retry_base (400ms ±10%)")
		within(t, d[1], 720*time.Millisecond, 900*time.Millisecond, "the second waits twice as long")
		require.GreaterOrEqual(t, at[2].Sub(at[1]), d[1]-20*time.Millisecond, "no retry runs before its time")
	})

	t.Run("AlwaysFailingEndsDeadAndRetryRunsItAgain", func(t *testing.T) {
		t.Parallel()
		_, q, c, failing, _ := setup(t)
		failing.Store(true)
		start(t, q)
		ctx := context.Background()
		id, err := q.Enqueue(ctx, jobs.Request{Kind: "failing", Args: args{Key: "d"}, MaxAttempts: 3})
		require.NoError(t, err)
		waitFor(t, "the job is dead", func() bool { return jobState(t, q, id) == jobs.StateDead })
		require.Len(t, c.of("d"), 3, "three attempts, then dead")
		require.Equal(t, 2, c.logged("WARN", id), "a failed run that will be retried is a warning")
		require.Equal(t, 1, c.logged("ERROR", id), "the last is an error")
		dead, err := q.List(ctx, jobs.ListOpts{State: jobs.StateDead, Kind: "failing"})
		require.NoError(t, err)
		require.Len(t, dead, 1)
		require.Equal(t, id, dead[0].ID)
		require.Len(t, dead[0].Errors, 3)
		require.Equal(t, "always fails", dead[0].Errors[2].Error)
		// This process's counts follow River's events, which arrive after the state is stored.
		var st jobs.Stats
		waitFor(t, "the third failure is counted", func() bool {
			st, err = q.Stats(ctx)
			require.NoError(t, err)
			return len(st.Kinds) == 1 && st.Kinds[0].Failed == 3
		})
		require.Equal(t, []jobs.KindStats{{Kind: "failing", Dead: 1, Failed: 3, RunTimeTotal: st.Kinds[0].RunTimeTotal, RunTimeMax: st.Kinds[0].RunTimeMax}}, st.Kinds)
		failing.Store(false)
		_, err = q.Retry(ctx, id)
		require.NoError(t, err)
		waitFor(t, "the retried job completed", func() bool { return jobState(t, q, id) == jobs.StateCompleted })
		require.Len(t, c.of("d"), 4)
	})

	t.Run("APermanentErrorCancelsWithoutRetrying", func(t *testing.T) {
		t.Parallel()
		_, q, c, _, _ := setup(t)
		start(t, q)
		id, err := q.Enqueue(context.Background(), jobs.Request{Kind: "gives_up", Args: args{Key: "g"}, MaxAttempts: 5})
		require.NoError(t, err)
		waitFor(t, "the job is cancelled", func() bool { return jobState(t, q, id) == jobs.StateCancelled })
		j, err := q.Get(context.Background(), id)
		require.NoError(t, err)
		require.Len(t, c.of("g"), 1, "one attempt only")
		require.Equal(t, 1, c.logged("ERROR", id))
		require.Zero(t, c.logged("WARN", id))
		require.Len(t, j.Errors, 1)
		require.Equal(t, "the record is gone", j.Errors[0].Error, "the handler's words, without River's error type")
	})

	t.Run("BadFiltersAndUnknownIDs", func(t *testing.T) {
		t.Parallel()
		_, q, _, _, _ := setup(t)
		ctx := context.Background()
		_, err := q.List(ctx, jobs.ListOpts{State: "exploded"})
		require.ErrorIs(t, err, jobs.ErrBadState)
		_, err = q.Get(ctx, 424242)
		require.ErrorIs(t, err, jobs.ErrNotFound)
		_, err = q.Retry(ctx, 424242)
		require.ErrorIs(t, err, jobs.ErrNotFound)
		_, err = q.Cancel(ctx, 424242)
		require.ErrorIs(t, err, jobs.ErrNotFound)
		_, err = q.Enqueue(ctx, jobs.Request{Kind: "nobody"})
		require.ErrorIs(t, err, jobs.ErrUnknownKind)
	})

	// Staged jobs: none for a rolled-back write; each committed one enqueued exactly once,
	// even with three relays racing (the workers' own and two more); then run.
	t.Run("StagedJobsAreRelayedOnceAfterCommit", func(t *testing.T) {
		t.Parallel()
		b, q, c, _, _ := setup(t)
		ctx := context.Background()
		boom := errors.New("boom")
		err := b.st.InTx(ctx, func(tx *store.Exec) error {
			if err := q.StageTx(ctx, tx, []jobs.Request{{Kind: "ok", Args: args{Key: "rolled"}}}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		// Rows another process staged: a kind this one has no handler for (relayed all the
		// same, for a worker that knows it) and a corrupt row (dropped): neither blocks the rest.
		require.NoError(t, b.st.InTx(ctx, func(tx *store.Exec) error {
			if err := tx.ExecRaw(ctx, "INSERT INTO kiln_job_outbox (jobs) VALUES (?)", `[{"kind":"newer.kind","args":{"key":"n"}}]`); err != nil {
				return err
			}
			return tx.ExecRaw(ctx, "INSERT INTO kiln_job_outbox (jobs) VALUES (?)", `not json`)
		}))
		const writes = 60
		var wg sync.WaitGroup
		for i := range writes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, b.st.InTx(ctx, func(tx *store.Exec) error {
					return q.StageTx(ctx, tx, []jobs.Request{{Kind: "ok", Args: args{Key: fmt.Sprint("s", i)}}, {Kind: "ok", Args: args{Key: fmt.Sprint("t", i)}}})
				}))
			}()
		}
		relayed := make(chan int, 2)
		for range 2 {
			go func() {
				n, err := q.Relay(ctx)
				assert.NoError(t, err)
				relayed <- n
			}()
		}
		start(t, q)
		wg.Wait()
		<-relayed
		<-relayed
		require.ErrorContains(t, b.st.InTx(ctx, func(tx *store.Exec) error {
			return q.StageTx(ctx, tx, []jobs.Request{{Kind: "nope"}})
		}), "no handler")
		waitFor(t, "every staged job ran", func() bool {
			for i := range writes {
				if len(c.of(fmt.Sprint("s", i))) == 0 || len(c.of(fmt.Sprint("t", i))) == 0 {
					return false
				}
			}
			return true
		})
		list, err := q.List(ctx, jobs.ListOpts{Limit: 500})
		require.NoError(t, err)
		require.Len(t, list, 2*writes+1, "each staged job enqueued once, the unknown kind too")
		require.Empty(t, c.of("rolled"))
		st, err := q.Stats(ctx)
		require.NoError(t, err)
		require.Zero(t, st.Staged)
	})

	t.Run("UniqueJobsAreEnqueuedOnce", func(t *testing.T) {
		t.Parallel()
		_, q, _, _, _ := setup(t)
		ctx := context.Background()
		a, err := q.Enqueue(ctx, jobs.Request{Kind: "ok", Args: args{Key: "u"}, Unique: true})
		require.NoError(t, err)
		b, err := q.Enqueue(ctx, jobs.Request{Kind: "ok", Args: args{Key: "u"}, Unique: true})
		require.NoError(t, err)
		require.Equal(t, a, b)
		other, err := q.Enqueue(ctx, jobs.Request{Kind: "ok", Args: args{Key: "v"}, Unique: true})
		require.NoError(t, err)
		require.NotEqual(t, a, other)
	})

	t.Run("CancelStopsAWaitingJob", func(t *testing.T) {
		t.Parallel()
		_, q, c, _, _ := setup(t)
		ctx := context.Background()
		id, err := q.Enqueue(ctx, jobs.Request{Kind: "ok", Args: args{Key: "c"}})
		require.NoError(t, err)
		j, err := q.Cancel(ctx, id)
		require.NoError(t, err)
		require.Equal(t, jobs.StateCancelled, j.State)
		st, err := q.Stats(ctx)
		require.NoError(t, err)
		require.Len(t, st.Kinds, 1)
		require.EqualValues(t, 1, st.Kinds[0].Cancelled, "stats count the cancelled job")
		require.Zero(t, st.Kinds[0].Waiting)
		start(t, q)
		later, err := q.Enqueue(ctx, jobs.Request{Kind: "ok", Args: args{Key: "after"}})
		require.NoError(t, err)
		waitFor(t, "a later job ran", func() bool { return jobState(t, q, later) == jobs.StateCompleted })
		require.Empty(t, c.of("c"), "a cancelled job never runs")
		// a finished job has nothing to cancel: said so, the job left as it is
		for _, f := range []struct {
			id    int64
			state string
		}{{id, jobs.StateCancelled}, {later, jobs.StateCompleted}} {
			j, err := q.Cancel(ctx, f.id)
			var done *jobs.FinishedError
			require.ErrorAs(t, err, &done)
			require.Equal(t, f.state, done.State)
			require.EqualError(t, err, fmt.Sprintf("job %d already %s: nothing to cancel", f.id, f.state))
			require.Equal(t, f.state, j.State)
		}
	})

	t.Run("QueuesWithPrioritiesRunEveryJob", func(t *testing.T) {
		t.Parallel()
		_, q, c, _, _ := setup(t)
		ctx := context.Background()
		var ids []int64
		for i := range 40 {
			queue := []string{"default", "other"}[i%2]
			id, err := q.Enqueue(ctx, jobs.Request{Kind: "ok", Args: args{Key: fmt.Sprint(i)}, Queue: queue, Priority: 1 + i%4})
			require.NoError(t, err)
			ids = append(ids, id)
		}
		start(t, q)
		for i, id := range ids {
			waitFor(t, "every job completed", func() bool { return jobState(t, q, id) == jobs.StateCompleted })
			require.Len(t, c.of(fmt.Sprint(i)), 1)
		}
	})

	t.Run("StopLetsRunningJobsFinish", func(t *testing.T) {
		t.Parallel()
		_, q, c, _, release := setup(t)
		require.NoError(t, q.Start(context.Background()))
		ctx := context.Background()
		id, err := q.Enqueue(ctx, jobs.Request{Kind: "slow", Args: args{Key: "s"}})
		require.NoError(t, err)
		waitFor(t, "the slow job started", func() bool { return len(c.of("s")) == 1 })
		stopped := make(chan error, 1)
		go func() { stopped <- q.Stop(ctx) }()
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned (%v) while a job was still running", err)
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		require.NoError(t, <-stopped)
		require.Equal(t, jobs.StateCompleted, jobState(t, q, id), "the running job finished before Stop returned")
	})
}
