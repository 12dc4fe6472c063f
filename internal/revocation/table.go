package revocation

import (
	"context"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// lockName serializes revocation writers, so seq order is commit order and a reader that has
// seen seq n has seen every entry below it.
const lockName = "kiln_revocations"

// pruneEvery is how often an instance deletes entries that no longer matter.
const pruneEvery = 5 * time.Minute

// syncBatch bounds the rows read per query.
const syncBatch = 1000

// RecordTx writes entries in tx, which must be about to commit: call it last, after the rows
// it revokes are updated (it takes a lock held to the commit). Call Applied after the commit.
func (l *List) RecordTx(ctx context.Context, tx *store.Exec, entries ...Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := tx.LockTx(ctx, lockName); err != nil {
		return err
	}
	rows, err := tx.QueryRaw(ctx, "SELECT COALESCE(MAX(seq), 0) FROM kiln_revocations")
	if err != nil {
		return fmt.Errorf("record revocation: %w", err)
	}
	var seq int64
	for rows.Next() {
		err = rows.Scan(&seq)
	}
	if err = firstErr(err, rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("record revocation: %w", err)
	}
	for _, e := range entries {
		seq++
		err := tx.ExecRaw(ctx, "INSERT INTO kiln_revocations (seq, kind, subject, at, expires_at) VALUES (?, ?, ?, ?, ?)",
			seq, e.Kind, e.Subject, e.At.UnixMicro(), e.At.Add(l.cfg.Retain).UnixMicro())
		if err != nil {
			return fmt.Errorf("record revocation: %w", err)
		}
	}
	return tx.Notify(ctx, channel)
}

// Record writes entries in a transaction of their own and applies them here.
func (l *List) Record(ctx context.Context, entries ...Entry) error {
	err := l.cfg.Store.InTx(ctx, func(tx *store.Exec) error { return l.RecordTx(ctx, tx, entries...) })
	if err == nil {
		l.Applied(entries)
	}
	return err
}

// Sync reads the entries committed since the last read.
func (l *List) Sync(ctx context.Context) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	start := l.cfg.Now()
	for {
		l.mu.RLock()
		cursor := l.cursor
		l.mu.RUnlock()
		entries, last, err := l.read(ctx, cursor)
		if err != nil {
			return err
		}
		l.mu.Lock()
		for _, e := range entries {
			l.apply(e)
		}
		l.cursor = max(l.cursor, last)
		if len(entries) < syncBatch {
			l.synced = start
			l.dropExpired(start)
		}
		l.mu.Unlock()
		l.notifyAccounts(entries)
		if len(entries) < syncBatch {
			return nil
		}
	}
}

// read returns the entries after cursor (at most syncBatch) and the highest seq among them.
func (l *List) read(ctx context.Context, cursor int64) ([]Entry, int64, error) {
	rows, err := l.cfg.Store.Reader().QueryRaw(ctx,
		"SELECT seq, kind, subject, at FROM kiln_revocations WHERE seq > ? ORDER BY seq LIMIT ?", cursor, syncBatch)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Entry
	last := cursor
	for rows.Next() {
		var e Entry
		var at int64
		if err := rows.Scan(&last, &e.Kind, &e.Subject, &at); err != nil {
			return nil, 0, err
		}
		e.At = time.UnixMicro(at)
		out = append(out, e)
	}
	return out, last, rows.Err()
}

// dropExpired forgets entries no token they could refuse outlives; l.mu is held.
func (l *List) dropExpired(now time.Time) {
	for id, exp := range l.sessions {
		if now.After(exp) {
			delete(l.sessions, id)
		}
	}
	for id, c := range l.cutoffs {
		if now.After(c.expires) {
			delete(l.cutoffs, id)
		}
	}
}

// prune deletes rows that stopped mattering an hour ago (any instance may; all agree). The
// newest row stays, whatever its age: the next seq counts on from it.
func (l *List) prune(ctx context.Context) {
	before := l.cfg.Now().Add(-time.Hour).UnixMicro()
	err := l.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		if err := tx.LockTx(ctx, lockName); err != nil {
			return err
		}
		return tx.ExecRaw(ctx, "DELETE FROM kiln_revocations WHERE expires_at < ? AND seq < (SELECT MAX(seq) FROM kiln_revocations)", before)
	})
	if err != nil && ctx.Err() == nil {
		l.cfg.Logger.Warn("revocation list not pruned", "cause", err.Error())
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
