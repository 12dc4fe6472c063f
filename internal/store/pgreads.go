package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reads by id on PostgreSQL's pool go in groups too, as writes alone do (pggroup.go): each read
// was a round trip of its own, a write to the socket and a wake-up of a PostgreSQL backend on
// both sides. At most readsAtOnce reads, or groups of them, are in flight; reads that come
// meanwhile wait, and the first of them sends the others that waited in one round trip on a
// connection of the pool: BEGIN, a lock timeout, the reads, COMMIT, one Sync. A read sees what
// it would alone: each statement takes its own snapshot (READ COMMITTED), of what had
// committed when it started. A read that fails in a group runs again by itself, and so do the
// ones after it (the server skipped them): it hears its own outcome. A read that waits for a
// lock (a migration's ALTER TABLE holds its table) fails in the group after groupLockTimeout
// and waits alone, holding up no read of another table; so does a group not answered within
// groupStall (its reads may wait for a lock while pgx prepares them, before the lock timeout).
// A read whose context ends is answered with its end at once, whether it waits to be sent or
// its group is in flight; the group runs until the last of its readers' deadlines at most.

const readsAtOnce = 2

// ReadsGrouped counts the reads by id that were answered in a group of them since Open (for
// tests and benchmarks).
func (s *Store) ReadsGrouped() int64 { return s.readsGrouped.Load() }

func newReadGroups(grouped func()) *pgGroups {
	g := newPGGroups(readsAtOnce, grouped)
	g.leave = true
	return g
}

// readGrouped runs b's read of t through the store's read groups: handled when its outcome is
// decided (recs, err), otherwise the caller runs it by itself and calls release afterwards
// when it is set.
func (e *Exec) readGrouped(ctx context.Context, t *table, b *builder) (recs []*Record, handled bool, release func(), err error) {
	g := e.s.reads
	var got []*Record // written by whoever sends the read: read only once done says so
	m := &groupMember{query: b.text(), args: b.args, lead: make(chan *groupTurn, 1), done: make(chan struct{})}
	m.deadline, _ = ctx.Deadline()
	m.scan = func(rows pgx.Rows) (serr error) {
		got, serr = t.scanPoolRows(e.s.dialect, rows)
		return serr
	}
	tn, err := g.turn(ctx, m)
	if err != nil {
		return nil, true, nil, e.s.dialect.interpret(err)
	}
	switch {
	case tn == nil: // another member sent it
	case len(tn.ms) == 1:
		return nil, false, func() { g.end(tn) }, nil
	default:
		g.sendReads(e.s.pool, tn.ms)
		g.end(tn)
	}
	if m.again {
		return nil, false, nil, nil
	}
	return got, true, nil, nil
}

// sendReads runs ms on a connection of pool in one round trip and decides each member's
// outcome; the first member is the caller's, the others are told through done.
func (g *pgGroups) sendReads(pool *pgxpool.Pool, ms []*groupMember) {
	ctx, cancel := context.WithDeadline(context.Background(), lastDeadline(ms))
	defer cancel()
	defer func() {
		for _, m := range ms[1:] {
			close(m.done)
		}
	}()
	for _, m := range ms {
		m.again = true // until its answer is read
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return
	}
	defer conn.Release()
	br := conn.SendBatch(ctx, groupBatch(ms))
	g.readAnswers(br, ms)
	_ = br.Close()
	rollbackOpen(ctx, conn.Conn())
}

// readAnswers reads BEGIN's and the lock timeout's answers, then each member's rows until one
// fails: that one and the rest stay to run again by themselves.
func (g *pgGroups) readAnswers(br pgx.BatchResults, ms []*groupMember) {
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return
		}
	}
	for _, m := range ms {
		rows, err := br.Query()
		if err == nil {
			err = m.scan(rows)
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err != nil {
			return
		}
		m.again = false
		g.grouped()
	}
}

// lastDeadline is the latest of ms's deadlines, and no later than groupStall from now (nor
// later than that for a member without one): a group that takes longer is given up, and its
// reads run by themselves.
func lastDeadline(ms []*groupMember) time.Time {
	limit := time.Now().Add(groupStall)
	last := time.Time{}
	for _, m := range ms {
		if m.deadline.IsZero() {
			return limit
		}
		if m.deadline.After(last) {
			last = m.deadline
		}
	}
	if last.After(limit) {
		return limit
	}
	return last
}
