package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoListen means the dialect has no notifications (SQLite): callers poll.
var ErrNoListen = errors.New("the database has no LISTEN/NOTIFY")

// Notify wakes the listeners of channel when tx commits (PostgreSQL NOTIFY; nothing on SQLite,
// where one process serves and pollers find the change).
func (e *Exec) Notify(ctx context.Context, channel string) error {
	if e.s.dialect.name() != "postgres" {
		return nil
	}
	if _, err := e.q.ExecContext(ctx, "SELECT pg_notify($1, '')", channel); err != nil {
		return fmt.Errorf("notify %s: %w", channel, e.s.dialect.interpret(err))
	}
	return nil
}

// Listen calls wake for every notification on channel until ctx ends, on a connection of its
// own that it opens again (calling wake, since notifications may have been missed) whenever it
// is lost. On SQLite it returns ErrNoListen at once.
func (s *Store) Listen(ctx context.Context, channel string, wake func()) error {
	if s.pool == nil {
		return ErrNoListen
	}
	for ctx.Err() == nil {
		_ = s.listenOnce(ctx, channel, wake)
		wake()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second): // the database is away: try again shortly
		}
	}
	return nil
}

func (s *Store) listenOnce(ctx context.Context, channel string, wake func()) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := c.Hijack() // a LISTENing session must not go back to the pool
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+quote(channel)); err != nil {
		return err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
