package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/testdb"
)

const jobsSpec = `jobs: {retry_base: 300ms, retry_max: 5s, poll_interval: 20ms}
resources:
  notes:
    fields:
      title: string
    triggers:
      - {name: flaky, on: [create], when: "new.title == 'flaky'", handler: flaky, max_attempts: 5}
      - {name: doomed, on: [create], when: "new.title == 'doomed'", handler: doomed, max_attempts: 3}
`

// attempts records when a handler ran.
type attempts struct {
	mu sync.Mutex
	at []time.Time
}

func (a *attempts) add() int { return a.addAt(time.Now()) }

// addAt records an attempt that began at t.
func (a *attempts) addAt(t time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at = append(a.at, t)
	return len(a.at)
}

func (a *attempts) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at...)
}

func waitJob(t *testing.T, app *kiln.App, kind, state string) *jobs.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := app.Jobs.List(context.Background(), jobs.ListOpts{Kind: kind})
		require.NoError(t, err)
		if len(list) == 1 && list[0].State == state {
			return list[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %s: %+v", kind, state, list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A handler failing twice then succeeding makes three attempts with growing delays; one that
// always fails is dead after its max_attempts, `kiln jobs list --state dead` shows it and
// `kiln jobs retry ID` runs it again.
func TestJobsRetryDeadAndTheJobsCommands(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
		dir := t.TempDir()
		specPath := filepath.Join(dir, "kiln.yaml")
		require.NoError(t, os.WriteFile(specPath, []byte(jobsSpec), 0o644))
		var flaky, doomed attempts
		var app *kiln.App
		var delays []time.Duration // how long after the last failed attempt returned each retry was scheduled
		var early []time.Duration  // how long before its scheduled time each retry began
		var failedAt time.Time     // when the last failed attempt returned (River schedules the retry then)
		var failing atomic.Bool
		failing.Store(true)
		x := &kiln.Extensions{}
		x.Job("flaky", func(ctx context.Context, j kiln.Job) error {
			began := time.Now() // before the read below, whose time varies with the machine's load
			if row, err := app.Jobs.Get(ctx, j.ID); err == nil && len(row.Errors) > 0 {
				// Not from the attempt error's time: that is when the attempt began, and the
				// handler's own read above takes longer on a loaded machine.
				delays = append(delays, row.ScheduledAt.Sub(failedAt))
				early = append(early, row.ScheduledAt.Sub(began))
			}
			if flaky.addAt(began) < 3 {
				failedAt = time.Now()
				return errors.New("not yet")
			}
			return nil
		})
		x.Job("doomed", func(ctx context.Context, j kiln.Job) error {
			doomed.add()
			if failing.Load() {
				return errors.New("doomed to fail")
			}
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		var err error
		app, err = kiln.New(ctx, kiln.Config{SpecPath: specPath, DataDir: dir, DatabaseURL: os.Getenv("KILN_DATABASE_URL"),
			Dev: true, Extensions: x, LookupEnv: func(string) (string, bool) { return "", false }})
		require.NoError(t, err)
		stopped := make(chan error, 1)
		go func() { stopped <- app.RunWorkers(ctx) }()
		t.Cleanup(func() { cancel(); require.NoError(t, <-stopped); require.NoError(t, app.Close()) })
		for _, title := range []string{"flaky", "doomed", "plain"} {
			_, err := app.Service.Create(service.AsSystem(ctx), "notes", map[string]any{"title": title}, service.WriteOpts{})
			require.NoError(t, err)
		}

		ok := waitJob(t, app, "trigger.notes.flaky", jobs.StateCompleted)
		require.Equal(t, 3, ok.Attempt)
		at := flaky.times()
		require.Len(t, at, 3)
		require.Len(t, delays, 2, "the retries' schedules, read from their job rows")
		// ±10% jitter, and up to 50ms for River to get from the handler's return to scheduling.
		require.Truef(t, delays[0] >= 270*time.Millisecond && delays[0] <= 380*time.Millisecond, "retry_base 300ms ±10%%: %v", delays[0])
		require.Truef(t, delays[1] >= 540*time.Millisecond && delays[1] <= 710*time.Millisecond, "twice retry_base: %v", delays[1])
		require.GreaterOrEqual(t, at[1].Sub(at[0]), delays[0]-20*time.Millisecond, "no retry runs before its time")
		require.GreaterOrEqual(t, at[2].Sub(at[1]), delays[1]-20*time.Millisecond, "no retry runs before its time")
		for _, e := range early {
			require.LessOrEqualf(t, e, 5*time.Millisecond, "a retry began %v before its scheduled time", e)
		}

		dead := waitJob(t, app, "trigger.notes.doomed", jobs.StateDead)
		require.Len(t, doomed.times(), 3, "three attempts, then dead")
		flags := []string{"--spec", specPath, "--data-dir", dir}
		out, err := run(t, append([]string{"jobs", "list", "--state", "dead", "--json"}, flags...)...)
		require.NoError(t, err, out)
		var listed struct{ Jobs []*jobs.Job }
		require.NoError(t, json.Unmarshal([]byte(out), &listed), out)
		require.Len(t, listed.Jobs, 1)
		require.Equal(t, dead.ID, listed.Jobs[0].ID)
		require.Equal(t, "dead", listed.Jobs[0].State)
		require.Len(t, listed.Jobs[0].Errors, 3)
		out, err = run(t, append([]string{"jobs", "list", "--state", "dead", "--kind", "trigger.notes.doomed"}, flags...)...)
		require.NoError(t, err, out)
		require.Contains(t, out, strconv.FormatInt(dead.ID, 10))
		require.Contains(t, out, "doomed to fail")

		failing.Store(false)
		id := strconv.FormatInt(dead.ID, 10)
		out, err = run(t, append([]string{"jobs", "retry", id}, flags...)...)
		require.NoError(t, err, out)
		require.Contains(t, out, "job "+id+" is available")
		waitJob(t, app, "trigger.notes.doomed", jobs.StateCompleted)
		require.Len(t, doomed.times(), 4, "retry ran it once more")
		out, err = run(t, append([]string{"jobs", "show", id, "--json"}, flags...)...)
		require.NoError(t, err, out)
		require.Contains(t, out, `"state": "completed"`)
		out, err = run(t, append([]string{"jobs", "list", "--state", "completed", "--kind", "trigger.notes.doomed"}, flags...)...)
		require.NoError(t, err, out)
		require.Contains(t, out, "attempt 3 failed: doomed to fail", "the error is the attempt history's, and says so")
		out, err = run(t, append([]string{"jobs", "cancel", id}, flags...)...)
		var done *jobs.FinishedError
		require.ErrorAs(t, err, &done, out)
		require.EqualError(t, err, "job "+id+" already completed: nothing to cancel")
		require.NotContains(t, out, "✓")

		_, err = run(t, append([]string{"jobs", "list", "--state", "exploded"}, flags...)...)
		require.ErrorIs(t, err, jobs.ErrBadState)
		_, err = run(t, append([]string{"jobs", "retry", "abc"}, flags...)...)
		require.ErrorContains(t, err, "is not a job id")
		_, err = run(t, append([]string{"jobs", "cancel", "999999"}, flags...)...)
		require.ErrorIs(t, err, jobs.ErrNotFound)
	})
}
