package store

import (
	"context"
	"sync"
	"time"
)

// Notifier sends NOTIFY on a channel after commits, coalesced: pokes that arrive while one
// notification is on its way make one more, not one each. PostgreSQL serializes notifying
// commits on one lock it holds through the commit's WAL flush, so a NOTIFY inside every write
// transaction made concurrent writes wait for one another; sent after the commit, from one
// goroutine, it costs the writes nothing. Listeners that miss one (the process died between
// commit and notification) still poll. On SQLite, where one process serves, it does nothing.
type Notifier struct {
	s       *Store
	channel string
	poke    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
	once    sync.Once
}

// notifyTimeout bounds one notification, and the last one Close sends.
const notifyTimeout = 5 * time.Second

// notifyGap is the least time from one notification to the next. A notification is a round
// trip and a transaction of its own, on pgx's pool and in PostgreSQL, whether or not
// anyone listens; under a steady stream of writes, without the gap, nearly every write made
// one (pokes coalesce only while one is on its way). With it, at most 1/notifyGap a second,
// and a listener hears of a commit at most this much later.
const notifyGap = 5 * time.Millisecond

// NewNotifier starts a notifier on channel; Close stops it after sending what is pending.
func (s *Store) NewNotifier(channel string) *Notifier {
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{s: s, channel: channel, poke: make(chan struct{}, 1), stop: cancel, done: make(chan struct{})}
	if s.dialect.name() != "postgres" {
		close(n.done)
		return n
	}
	go n.run(ctx)
	return n
}

// Poke asks for a notification soon; it never blocks.
func (n *Notifier) Poke() {
	if n == nil {
		return
	}
	select {
	case n.poke <- struct{}{}:
	default: // one is pending already: it covers this commit too
	}
}

func (n *Notifier) run(ctx context.Context) {
	defer close(n.done)
	gap := time.NewTimer(0)
	defer gap.Stop()
	for {
		select {
		case <-ctx.Done():
			select {
			case <-n.poke: // the last commits before Close still wake the other instances
				n.send()
			default:
			}
			return
		case <-n.poke:
		}
		select {
		case <-ctx.Done():
			n.send() // the poke just taken
			return
		case <-gap.C:
		}
		gap.Reset(notifyGap)
		n.send()
	}
}

func (n *Notifier) send() {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	// A failure is not the writer's: the listeners' polling finds the change. Straight on
	// pgx's pool: through database/sql, which keeps no idle connection over it (pgopen.go),
	// each notification also opened and closed a database/sql connection (21 allocations
	// against 6, and about twice the CPU).
	_, _ = n.s.pool.Exec(ctx, "SELECT pg_notify($1, '')", n.channel)
}

// Close sends a pending notification and stops the notifier.
func (n *Notifier) Close() error {
	n.once.Do(n.stop)
	<-n.done
	return nil
}
