package scaleout_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/kiln-dev/kiln/internal/testdb"
)

// crashSpec: every order's create trigger runs the confirm action, which records the order in
// confirmations (unique per order) unless it is confirmed already — an idempotent handler.
const crashSpec = `jobs: {rescue_after: 3s, poll_interval: 50ms, workers: 20, retry_base: 200ms}
resources:
  orders:
    fields:
      ref: {type: string, required: true, unique: true}
      confirmed: {type: boolean, default: false}
    actions:
      confirm:
        access: public
        steps:
          - create: confirmations
            when: "!record.confirmed"
            values: {order: record.id}
          - set: {confirmed: "true"}
    triggers:
      - {name: confirm, on: [create], action: confirm, timeout: 2s}
  confirmations:
    fields:
      order: {type: relation, to: orders, required: true, unique: true}
`

const crashOrders = 2000

// outcome is what a client learnt of one order.
type outcome struct {
	ref    string
	status int // 0: no answer (the server died)
}

// While 2,000 orders are placed (a fifth of them in batches that roll back with a 409) and
// their jobs run, the server is killed with SIGKILL; after a restart every committed order
// has exactly one job, every job completes and its effect happened exactly once, and no job
// exists for an order that rolled back.
//
// It runs beside the package's other parallel tests (the schedule test mostly waits), one
// dialect after the other; the processes get their database from env, not from this test's
// environment, so no t.Setenv holds it back.
func TestKill9LosesNoJobAndRunsNoneForRolledBackWrites(t *testing.T) {
	t.Parallel()
	testdb.EachDialect(t, func(t *testing.T, dbURL string) {
		dir := t.TempDir()
		specPath := filepath.Join(dir, "kiln.yaml")
		require.NoError(t, os.WriteFile(specPath, []byte(crashSpec), 0o644))
		env := map[string]string{"KILN_DATABASE_URL": dbURL}
		args := []string{"--dev", "--spec", specPath, "--data-dir", filepath.Join(dir, "data")}
		srv, base := startServe(t, "first", env, args...)

		var next atomic.Int64
		results := make([]outcome, crashOrders)
		var answered atomic.Int64
		killAt := int64(crashOrders * 2 / 5)
		place := func(base string, stop <-chan struct{}) {
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						i := next.Add(1) - 1
						if i >= crashOrders {
							return
						}
						results[i] = placeOrder(base, int(i))
						if results[i].status == 0 {
							return // the server is gone: stop until it is back
						}
						answered.Add(1)
					}
				}()
			}
			wg.Wait()
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { defer close(done); place(base, stop) }()
		for answered.Load() < killAt {
			select {
			case <-done:
				t.Fatalf("the clients stopped after %d answers, before the kill", answered.Load())
			default:
			}
			time.Sleep(5 * time.Millisecond)
		}
		require.NoError(t, srv.cmd.Process.Kill()) // SIGKILL: no shutdown of any kind
		_ = srv.wait(10 * time.Second)
		close(stop)
		<-done
		began := time.Now()
		t.Logf("killed after %d answers", answered.Load())

		srv2, base2 := startServe(t, "second", env, args...)
		t.Logf("restarted in %s", time.Since(began))
		place(base2, make(chan struct{}))
		t.Logf("all orders placed at %s", time.Since(began))
		db := openDB(t, dbURL, filepath.Join(dir, "data", "kiln.db"))
		waitAllJobsDone(t, db, dbURL != "")
		t.Logf("all jobs done at %s", time.Since(began))
		checkCrashInvariants(t, db, dbURL != "", results)
		srv2.stop()
	})
}

// placeOrder creates order i; every fifth one goes in a batch whose second operation repeats
// the ref and fails (409), rolling the first back after its job was enqueued.
func placeOrder(base string, i int) outcome {
	ref := fmt.Sprintf("order-%05d", i)
	order := map[string]any{"ref": ref}
	path, body := "/api/orders", any(order)
	if i%5 == 0 {
		op := map[string]any{"method": "POST", "path": "/api/orders", "body": order}
		path, body = "/api/batch", map[string]any{"operations": []any{op, op}}
	}
	raw, _ := json.Marshal(body)
	res, err := http.Post(base+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		return outcome{ref: ref}
	}
	_ = res.Body.Close()
	return outcome{ref: ref, status: res.StatusCode}
}

func openDB(t *testing.T, pgURL, sqlitePath string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if pgURL != "" {
		db, err = sql.Open("pgx", pgURL)
	} else {
		db, err = sql.Open("sqlite", "file:"+sqlitePath+"?_pragma=busy_timeout(10000)")
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func waitAllJobsDone(t *testing.T, db *sql.DB, pg bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var open int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM river_job WHERE state <> 'completed'").Scan(&open))
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			rows, _ := db.Query("SELECT state, COUNT(*) FROM river_job GROUP BY state")
			var states []string
			for rows != nil && rows.Next() {
				var s string
				var n int
				_ = rows.Scan(&s, &n)
				states = append(states, fmt.Sprintf("%s=%d", s, n))
			}
			t.Fatalf("jobs not done after 3 minutes: %v", states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stringSet(t *testing.T, db *sql.DB, query string) map[string]int {
	t.Helper()
	rows, err := db.Query(query)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out[s]++
	}
	require.NoError(t, rows.Err())
	return out
}

func checkCrashInvariants(t *testing.T, db *sql.DB, pg bool, results []outcome) {
	t.Helper()
	orders := map[string]string{} // ref → id
	rows, err := db.Query("SELECT ref, id FROM orders")
	require.NoError(t, err)
	for rows.Next() {
		var ref, id string
		require.NoError(t, rows.Scan(&ref, &id))
		orders[ref] = id
	}
	require.NoError(t, rows.Err())
	_ = rows.Close()
	argID := "json_extract(args, '$.record_id')"
	if pg {
		argID = "args->>'record_id'"
	}
	jobs := stringSet(t, db, "SELECT "+argID+" FROM river_job WHERE kind = 'trigger.orders.confirm'")
	confirmed := stringSet(t, db, "SELECT order_id FROM confirmations")
	var created, rolledBack, unknown int
	for _, r := range results {
		switch r.status {
		case http.StatusCreated:
			created++
			require.Contains(t, orders, r.ref, "an acknowledged order is stored")
		case http.StatusConflict:
			rolledBack++
			require.NotContains(t, orders, r.ref, "a rolled-back batch stored nothing")
		case 0:
			unknown++
		default:
			t.Fatalf("order %s: unexpected status %d", r.ref, r.status)
		}
	}
	t.Logf("orders: %d acknowledged, %d rolled back, %d unanswered (server killed); %d stored, %d jobs",
		created, rolledBack, unknown, len(orders), len(jobs))
	require.Greater(t, rolledBack, crashOrders/10, "a fifth of the orders are batches that roll back")
	require.Less(t, unknown, 50, "only requests in flight at the kill go unanswered")
	require.Len(t, jobs, len(orders), "exactly the committed orders have jobs")
	for ref, id := range orders {
		require.Equal(t, 1, jobs[id], "order %s has exactly one job", ref)
		require.Equal(t, 1, confirmed[id], "order %s was confirmed exactly once", ref)
	}
	require.Len(t, confirmed, len(orders))
	var unconfirmed int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM orders WHERE NOT confirmed").Scan(&unconfirmed))
	require.Zero(t, unconfirmed)
}
