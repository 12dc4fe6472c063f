package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reads by id on PostgreSQL's pool go in groups too, as writes alone do (pggroup.go): each read
// was a round trip of its own, a write to the socket and a wake-up of a PostgreSQL backend on
// both sides. At most readsAtOnce reads, or groups of them, are in flight; reads that come
// meanwhile wait, and the first of them sends the others that waited in one round trip on a
// connection of the pool, one statement after the other, one Sync. A read sees what it would
// alone: each statement takes its own snapshot (READ COMMITTED), of what had committed when it
// started. A read that fails in a group runs again by itself, and so do the ones after it (the
// server skipped them): it hears its own outcome. A read whose context ends while it waits is
// not sent.

const readsAtOnce = 2

// ReadsGrouped counts the reads by id that were answered in a group of them since Open (for
// tests and benchmarks).
func (s *Store) ReadsGrouped() int64 { return s.readsGrouped.Load() }

// readGrouped runs b's read of t through the store's read groups: handled when its outcome is
// decided (recs, err), otherwise the caller runs it by itself and calls release afterwards
// when it is set.
func (e *Exec) readGrouped(ctx context.Context, t *table, b *builder) (recs []*Record, handled bool, release func(), err error) {
	g := e.s.reads
	m := &groupMember{query: b.text(), args: b.args, lead: make(chan *groupTurn, 1), done: make(chan struct{})}
	m.scan = func(rows pgx.Rows) (err error) {
		recs, err = t.scanPoolRows(e.s.dialect, rows)
		return err
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
	return recs, true, nil, m.err
}

// sendReads runs ms on a connection of pool in one round trip and decides each member's
// outcome; the first member is the caller's, the others are told through done.
func (g *pgGroups) sendReads(pool *pgxpool.Pool, ms []*groupMember) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	defer func() {
		for _, m := range ms[1:] {
			close(m.done)
		}
	}()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		for _, m := range ms {
			m.again = true
		}
		return
	}
	defer conn.Release()
	b := &pgx.Batch{}
	for _, m := range ms {
		b.Queue(m.query, m.args...)
	}
	br := conn.SendBatch(ctx, b)
	failed := false
	for _, m := range ms {
		if failed {
			m.again = true
			continue
		}
		rows, err := br.Query()
		if err == nil {
			err = m.scan(rows)
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err != nil {
			m.again, failed = true, true // it and the rest (skipped by the server) run by themselves
			continue
		}
		g.grouped()
	}
	_ = br.Close()
}
