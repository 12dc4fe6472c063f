package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// The staging outbox. A write that causes jobs records them with StageTx in one small row
// of kiln_job_outbox, in its own transaction — cheaper than River's insert, which packs,
// indexes and checks every job — and the relay moves staged jobs into River right after
// commit, in batches, deleting the staged row in the same transaction as the insert. So a
// rolled-back write still leaves no job, a committed one always gets its jobs, and each is
// enqueued exactly once (on PostgreSQL, relays of several instances skip each other's rows).
const outboxTable = "kiln_job_outbox"

// relayBatch bounds the staged rows one relay transaction moves.
const relayBatch = 200

// Rows this process stages wake its relay at once (Poke). It also looks for rows other
// processes staged (or a process that stopped before relaying left): relayPoll after it
// last moved something, doubling while it finds nothing, up to relayIdle.
const (
	relayPoll = 100 * time.Millisecond
	relayIdle = time.Second
)

type staged struct {
	Kind        string          `json:"kind"`
	Queue       string          `json:"queue,omitempty"`
	Priority    int             `json:"priority,omitempty"`
	MaxAttempts int             `json:"max_attempts,omitempty"`
	Args        json.RawMessage `json:"args"`
}

func migrateOutbox(ctx context.Context, st *store.Store) error {
	id := "INTEGER PRIMARY KEY"
	if st.Dialect() == "postgres" {
		id = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	}
	return st.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "CREATE TABLE IF NOT EXISTS "+outboxTable+" (id "+id+", jobs TEXT NOT NULL)")
	})
}

// StageTx records rs inside tx, the transaction of the write that causes them; the relay
// enqueues them after tx commits. Unique jobs cannot be staged (use EnqueueTx).
func (q *Queue) StageTx(ctx context.Context, tx *store.Exec, rs []Request) error {
	if len(rs) == 0 {
		return nil
	}
	out := make([]staged, len(rs))
	for i, r := range rs {
		if _, ok := q.kinds[r.Kind]; !ok {
			return fmt.Errorf("%w: %s", ErrUnknownKind, r.Kind)
		}
		if r.Unique {
			return errors.New("jobs: unique jobs cannot be staged")
		}
		args, err := json.Marshal(r.Args)
		if err != nil {
			return fmt.Errorf("encode the args of %s: %w", r.Kind, err)
		}
		out[i] = staged{Kind: r.Kind, Queue: r.Queue, Priority: r.Priority, MaxAttempts: r.MaxAttempts, Args: args}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := tx.ExecRaw(ctx, "INSERT INTO "+outboxTable+" (jobs) VALUES (?)", string(raw)); err != nil {
		return fmt.Errorf("stage %d jobs: %w", len(rs), err)
	}
	tx.AfterCommit(q.Poke)
	return nil
}

// Poke wakes this process's relay (StageTx does once its transaction commits).
func (q *Queue) Poke() {
	select {
	case q.poke <- struct{}{}:
	default:
	}
}

// Relay moves every staged job into the queue now and returns how many it enqueued.
// Workers run it continuously; tests and tools may call it directly.
func (q *Queue) Relay(ctx context.Context) (int, error) {
	total := 0
	for {
		n, rows, err := q.relayOnce(ctx)
		total += n
		if err != nil || rows < relayBatch {
			return total, err
		}
	}
}

// relayOnce moves one batch: the jobs enqueued and the staged rows consumed.
func (q *Queue) relayOnce(ctx context.Context) (int, int, error) {
	if !q.anyStaged(ctx) {
		return 0, 0, nil
	}
	var jobs, rows int
	err := q.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		ids, reqs, err := q.takeStaged(ctx, tx)
		if err != nil || len(ids) == 0 {
			return err
		}
		if len(reqs) > 0 {
			if err := q.enqueueMany(ctx, tx, reqs, true); err != nil {
				return err
			}
		}
		jobs, rows = len(reqs), len(ids)
		return tx.ExecRaw(ctx, "DELETE FROM "+outboxTable+" WHERE id IN ("+placeholders(len(ids))+")", ids...)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("jobs: relay staged jobs: %w", err)
	}
	return jobs, rows, nil
}

// anyStaged asks the reader first, so an idle relay never takes SQLite's one writer.
func (q *Queue) anyStaged(ctx context.Context) bool {
	rows, err := q.cfg.Store.Reader().QueryRaw(ctx, "SELECT 1 FROM "+outboxTable+" LIMIT 1")
	if err != nil {
		return true // let the transaction report it
	}
	defer rows.Close()
	return rows.Next()
}

// staged counts the staged rows.
func (q *Queue) staged(ctx context.Context) (int64, error) {
	rows, err := q.cfg.Store.Reader().QueryRaw(ctx, "SELECT COUNT(*) FROM "+outboxTable)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		err = rows.Scan(&n)
	}
	return n, errors.Join(err, rows.Err())
}

func (q *Queue) takeStaged(ctx context.Context, tx *store.Exec) ([]any, []Request, error) {
	lock := ""
	if q.cfg.Store.Dialect() == "postgres" {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := tx.QueryRaw(ctx, "SELECT id, jobs FROM "+outboxTable+" ORDER BY id LIMIT ?"+lock, relayBatch)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var ids []any
	var reqs []Request
	for rows.Next() {
		var id int64
		var raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
		var batch []staged
		if err := json.Unmarshal([]byte(raw), &batch); err != nil || !validStaged(batch) {
			// Nothing can ever enqueue it: drop it rather than block every job behind it.
			q.cfg.Logger.ErrorContext(ctx, "dropping a staged row that is not a list of jobs", "row", id)
			continue
		}
		for _, s := range batch {
			reqs = append(reqs, Request{Kind: s.Kind, Args: s.Args, Queue: s.Queue, Priority: s.Priority, MaxAttempts: s.MaxAttempts})
		}
	}
	return ids, reqs, rows.Err()
}

// validStaged reports whether every staged job names a kind and carries args.
func validStaged(batch []staged) bool {
	for _, s := range batch {
		if s.Kind == "" || len(s.Args) == 0 {
			return false
		}
	}
	return true
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// relay runs until ctx ends: at once when poked, else after a wait that grows while
// there is nothing to move (relayPoll to relayIdle).
func (q *Queue) relay(ctx context.Context) {
	wait := relayPoll
	for {
		n, err := q.Relay(ctx)
		if err != nil && ctx.Err() == nil {
			q.cfg.Logger.WarnContext(ctx, "relaying staged jobs failed", "error", err.Error())
		}
		wait = nextRelayWait(wait, n > 0 || err != nil)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-q.poke:
			wait = relayPoll
		case <-t.C:
		}
		t.Stop()
	}
}

// nextRelayWait is relayPoll after a pass that moved something (or failed: try again
// soon), else twice the last wait, at most relayIdle.
func nextRelayWait(last time.Duration, busy bool) time.Duration {
	if busy {
		return relayPoll
	}
	return min(2*last, relayIdle)
}
