package scaleout_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// tickSpec: a schedule ticking every second increments one counter record.
const tickSpec = `jobs: {poll_interval: 100ms, rescue_after: 5s}
resources:
  counters:
    fields:
      n: {type: integer, default: 0}
    access: {list: public, view: public, create: public}
schedules:
  - name: tick
    cron: "* * * * * *"
    timeout: 2s
    update: {resource: counters, filter: "n >= 0", set: {n: "record.n + 1"}}
`

// Two instances on one PostgreSQL database: for half a minute a schedule ticking every
// second runs exactly once per tick across both, with no tick missing; then the leader is
// killed with SIGKILL and the other instance takes over, running the next ticks within
// about 15 seconds (River's leader lease) and every tick after that, for another half
// minute.
func TestScheduleRunsOncePerTickAcrossInstancesAndSurvivesTheLeader(t *testing.T) {
	t.Parallel()
	db := newDatabase(t)
	dir := t.TempDir()
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(tickSpec), 0o644))
	env := map[string]string{"KILN_DATABASE_URL": db.url}
	serve := func(name string) (*proc, string) {
		return startServe(t, name, env, "--dev", "--spec", specPath, "--migrations", filepath.Join(dir, "migrations"), "--data-dir", t.TempDir())
	}
	a, base := serve("a")
	b, _ := serve("b")
	res, err := http.Post(base+"/api/counters", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusCreated, res.StatusCode)

	time.Sleep(30 * time.Second)
	leader := leaderOf(t, db, a, b)
	survivor := map[*proc]*proc{a: b, b: a}[leader]
	require.NoError(t, leader.cmd.Process.Kill())
	_ = leader.wait(10 * time.Second)
	killed := time.Now()
	t.Logf("killed the leader, %s", leader.name)
	time.Sleep(30 * time.Second)
	survivor.stop()

	ticks, retried := tickJobs(t, db)
	before, after := splitAt(ticks, killed)
	require.GreaterOrEqual(t, len(before), 25, "ticks before the kill")
	requireConsecutive(t, before, "before the kill")
	requireConsecutive(t, after, "after the takeover")
	require.NotEmpty(t, after, "the survivor took over")
	t.Logf("ticks: %d before the kill, %d after; first tick after the kill %s later", len(before), len(after), after[0].Sub(killed))
	require.Less(t, after[0].Sub(killed), 25*time.Second, "the survivor runs the next ticks within River's lease")

	var n int
	require.NoError(t, db.conn.QueryRow(context.Background(), "SELECT n FROM counters").Scan(&n))
	// Each completed run incremented once; a run killed mid-way may have committed before it
	// was recorded, and then ran again (at least once): at most one extra per retried run.
	require.GreaterOrEqual(t, n, len(ticks))
	require.LessOrEqual(t, n, len(ticks)+retried)
}

// leaderOf is the process whose River client holds the leadership.
func leaderOf(t *testing.T, db *database, procs ...*proc) *proc {
	t.Helper()
	var id string
	require.NoError(t, db.conn.QueryRow(context.Background(), "SELECT leader_id FROM river_leader").Scan(&id))
	for _, p := range procs {
		if strings.Contains(id, fmt.Sprintf("_pid%d_", p.cmd.Process.Pid)) {
			return p
		}
	}
	t.Fatalf("leader %s is none of the instances", id)
	return nil
}

// tickJobs returns the ticks of the schedule's completed runs, each checked to be the only
// run of its tick, and how many runs took more than one attempt.
func tickJobs(t *testing.T, db *database) ([]time.Time, int) {
	t.Helper()
	rows, err := db.conn.Query(context.Background(), "SELECT args->>'tick', state, attempt FROM river_job WHERE kind = 'schedule.tick'")
	require.NoError(t, err)
	type run struct {
		Tick, State string
		Attempt     int
	}
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[run])
	require.NoError(t, err)
	seen := map[string]bool{}
	var ticks []time.Time
	retried := 0
	for _, r := range runs {
		require.False(t, seen[r.Tick], "tick %s ran twice", r.Tick)
		seen[r.Tick] = true
		if r.State != "completed" {
			continue // the last tick may still run when the survivor stopped
		}
		tick, err := time.Parse(time.RFC3339Nano, r.Tick)
		require.NoError(t, err)
		ticks = append(ticks, tick)
		if r.Attempt > 1 {
			retried++
		}
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Before(ticks[j]) })
	return ticks, retried
}

func splitAt(ticks []time.Time, at time.Time) (before, after []time.Time) {
	for _, tk := range ticks {
		if tk.Before(at) {
			before = append(before, tk)
		} else {
			after = append(after, tk)
		}
	}
	return before, after
}

// requireConsecutive checks ticks are one second apart: none missing, none repeated.
func requireConsecutive(t *testing.T, ticks []time.Time, what string) {
	t.Helper()
	for i := 1; i < len(ticks); i++ {
		require.Equal(t, time.Second, ticks[i].Sub(ticks[i-1]), "%s: ticks %s and %s", what, ticks[i-1], ticks[i])
	}
}
