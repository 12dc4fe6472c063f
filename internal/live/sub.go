package live

import (
	"context"
	"sync"

	"github.com/kiln-dev/kiln/internal/events"
)

// Sub is one stream's subscription to the events of one resource.
type Sub struct {
	b        *Broker
	resource string
	// From is the broker's position when it subscribed: Events carries what comes after it.
	From events.Pos
	c    chan *events.Event
	done chan struct{}
	once sync.Once
	err  error // set before done is closed
}

// Events carries the resource's events after From, in order.
func (s *Sub) Events() <-chan *events.Event { return s.c }

// Done is closed when the broker ends the subscription; Err then says why.
func (s *Sub) Done() <-chan struct{} { return s.done }

// Err is ErrLagging or ErrClosed once Done is closed, nil before.
func (s *Sub) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close ends the subscription.
func (s *Sub) Close() {
	s.b.remove(s)
	s.end(ErrClosed)
}

func (s *Sub) end(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

// Replay calls fn for each event of the resource after pos up to From, read from the outbox
// in pages: what a stream resuming from an earlier event missed.
func (s *Sub) Replay(ctx context.Context, pos events.Pos, fn func(*events.Event) error) error {
	for pos.Before(s.From) {
		evs, err := events.Read(ctx, s.b.cfg.Store.Reader(), pos, s.From.ID, s.resource, s.b.cfg.Page)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if s.From.Before(ev.Pos()) {
				return nil
			}
			if err := fn(ev); err != nil {
				return err
			}
			pos = ev.Pos()
		}
		if len(evs) < s.b.cfg.Page {
			return nil
		}
	}
	return nil
}
