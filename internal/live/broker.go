// Package live fans the outbox out to live-update streams. One poller per process reads the
// events committed since it last looked — woken at once by this process's own commits, by a
// PostgreSQL NOTIFY from any instance, and by a periodic poll as the safety net — and hands
// each to the subscribers of its resource, each through a bounded buffer: a subscriber that
// falls that far behind is dropped (its client reconnects and resumes from the outbox) rather
// than growing memory. docs/jobs.md describes the design.
package live

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/store"
)

// Errors a subscription ends with.
var (
	// ErrClosed: the broker was closed (the server shuts down).
	ErrClosed = errors.New("live updates are shutting down")
	// ErrLagging: the subscriber did not take its events fast enough.
	ErrLagging = errors.New("the stream fell too far behind")
)

// Config configures a Broker.
type Config struct {
	Store *store.Store
	// Poll is how often the outbox is read without being woken; default 1 s.
	Poll time.Duration
	// Buffer is how many events a subscriber may have waiting; default 1024 (a pointer each):
	// the backlog a poller releases at once after events waited must fit.
	Buffer int
	// Page is how many events one read of the outbox takes at most; default 500.
	Page   int
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	c.Poll = cmp.Or(c.Poll, time.Second)
	c.Buffer = cmp.Or(c.Buffer, 1024)
	c.Page = cmp.Or(c.Page, 500)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	if c.Store == nil {
		return errors.New("live: a store is needed")
	}
	return nil
}

// Broker is the process's one poller of the outbox and its subscribers.
type Broker struct {
	cfg  Config
	wake chan struct{}

	horizon *events.Horizon // PostgreSQL: up to which id events are final; nil on SQLite

	mu       sync.Mutex
	subs     map[*Sub]struct{}
	pos      events.Pos // the last event handed out
	started  bool
	closed   bool
	starting *attempt        // the start under way, if any
	bg       context.Context // the poller's; set by the first start, ended by Close
	stop     context.CancelFunc

	done sync.WaitGroup
}

// attempt is one start of the poller, which every subscriber arriving meanwhile waits for.
type attempt struct {
	done chan struct{}
	err  error // set before done is closed
}

// New makes a Broker; it starts polling with its first subscriber.
func New(cfg Config) (*Broker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, wake: make(chan struct{}, 1), subs: map[*Sub]struct{}{}}
	if cfg.Store.Dialect() == "postgres" {
		b.horizon = events.NewHorizon()
	}
	return b, nil
}

// Wake makes the poller read the outbox now (this process committed an event).
func (b *Broker) Wake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Subscribe starts receiving the events of resource committed after the broker's current
// position (Sub.From); Replay fills in what came before it.
func (b *Broker) Subscribe(ctx context.Context, resource string) (*Sub, error) {
	if err := b.start(ctx); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	s := &Sub{b: b, resource: resource, From: b.pos, c: make(chan *events.Event, b.cfg.Buffer), done: make(chan struct{})}
	b.subs[s] = struct{}{}
	return s, nil
}

// start starts the poller once. The first subscriber begins it in the background; it and
// every one arriving meanwhile wait for it, each within its context and startWait (then
// ErrStarting, while the start goes on). A start that failed is begun again by the next.
func (b *Broker) start(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.started {
		b.mu.Unlock()
		return nil
	}
	a := b.starting
	if a == nil {
		if b.bg == nil {
			// The poller outlives the request that started it and carries none of its values.
			b.bg, b.stop = context.WithCancel(context.Background())
		}
		a = &attempt{done: make(chan struct{})}
		b.starting = a
		b.done.Add(1)
		go b.begin(b.bg, a)
	}
	b.mu.Unlock()
	wait := time.NewTimer(startWait)
	defer wait.Stop()
	select {
	case <-a.done:
		return a.err
	case <-ctx.Done():
		return ctx.Err()
	case <-wait.C:
		return ErrStarting
	}
}

// begin reads the head of the outbox and starts the poller (start).
func (b *Broker) begin(bg context.Context, a *attempt) {
	defer b.done.Done()
	head, err := b.head(bg)
	b.mu.Lock()
	b.starting = nil
	if err == nil && !b.closed {
		b.pos, b.started = head, true
		b.done.Add(2)
		go func() {
			defer b.done.Done()
			_ = b.cfg.Store.Listen(bg, events.Channel, b.Wake) // ErrNoListen on SQLite: polls only
		}()
		go b.run(bg)
	}
	if b.closed {
		err = ErrClosed
	}
	a.err = err
	b.mu.Unlock()
	close(a.done)
}

// Close ends every subscription and stops the poller.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for s := range b.subs {
		s.end(ErrClosed)
	}
	clear(b.subs)
	stop := b.stop
	b.mu.Unlock()
	if stop != nil {
		stop()
	}
	b.done.Wait()
	return nil
}

// hotTries is how many quick reads follow a wake that found nothing: on PostgreSQL the
// event may wait for an older transaction, usually short, to end.
const hotTries = 5

// run reads the outbox when woken and every Poll until ctx ends.
func (b *Broker) run(ctx context.Context) {
	defer b.done.Done()
	tick := time.NewTicker(b.cfg.Poll)
	defer tick.Stop()
	hot := time.NewTimer(time.Hour)
	hot.Stop()
	var r retry
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
			r.tries = hotTries
		case <-tick.C:
		case <-hot.C:
		}
		n, pending, err := b.poll(ctx)
		if failing != (err != nil) && ctx.Err() == nil {
			failing = err != nil
			b.logPoll(err)
		}
		if d := r.next(n, pending); d > 0 {
			hot.Reset(d)
		}
	}
}

// retry schedules the poller's quick reads after a wake that found nothing, and while committed
// events wait for transactions writing events to end (PostgreSQL).
type retry struct {
	tries   int           // quick reads left after a wake
	waiting time.Duration // the last pause while events waited
}

// next is the pause before the next quick read, 0 for none, after a read that handed out n
// events and left pending ones behind or not.
func (r *retry) next(n int, pending bool) time.Duration {
	switch {
	case pending && n > 0: // the horizon moved: the rest usually follows at once
		r.waiting = 2 * time.Millisecond
		return r.waiting
	case pending: // a transaction writing events runs on: look less often the longer it runs
		r.waiting = min(r.waiting+2*time.Millisecond, 20*time.Millisecond)
		return r.waiting
	case n == 0 && r.tries > 0:
		r.waiting = 0
		r.tries--
		return time.Duration(10<<(hotTries-r.tries-1)) * time.Millisecond
	}
	r.waiting = 0
	if n > 0 {
		r.tries = 0
	}
	return 0
}

func (b *Broker) logPoll(err error) {
	if err != nil {
		b.cfg.Logger.Warn("live updates cannot read the outbox: streams wait", "cause", err.Error())
		return
	}
	b.cfg.Logger.Info("live updates read the outbox again")
}

// startWait bounds how long a subscription waits for the poller to start (start), which on
// PostgreSQL waits for the transactions writing events at that moment to end (head).
const startWait = 5 * time.Second

// ErrStarting: transactions writing events ran for longer than startWait while live updates
// started (a session idle in a transaction that wrote events, say); the client tries again.
var ErrStarting = errors.New("live updates wait for transactions that write events to end")

// head is where the poller starts: the last event committed now, once every event up to it
// is final (on PostgreSQL a transaction that drew a lower id may still be writing: the poller
// waits for it, so that its event, committed after the start, is not passed by).
func (b *Broker) head(ctx context.Context) (events.Pos, error) {
	if b.horizon == nil {
		last, err := events.Last(ctx, b.cfg.Store.Reader())
		return events.Pos{ID: last}, err
	}
	o, err := events.Observe(ctx, b.cfg.Store.Reader())
	for pause := time.Millisecond; err == nil && b.horizon.Advance(o) < o.Last; pause = min(2*pause, 50*time.Millisecond) {
		select {
		case <-ctx.Done():
			return events.Pos{}, ctx.Err()
		case <-time.After(pause):
		}
		var later events.Observation
		later, err = events.Observe(ctx, b.cfg.Store.Reader())
		o.Writers = later.Writers // whether the writers then have ended: the start stays o.Last
	}
	if err != nil {
		return events.Pos{}, err
	}
	return events.Pos{ID: o.Last}, nil
}

// safe is the id up to which the poller may read: on PostgreSQL from a new look at the
// outbox, with whether a committed event lies beyond it (pending: look again soon).
func (b *Broker) safe(ctx context.Context) (safe int64, pending bool, err error) {
	if b.horizon == nil {
		return events.Unbounded, false, nil
	}
	o, err := events.Observe(ctx, b.cfg.Store.Reader())
	if err != nil {
		return 0, false, err
	}
	safe = b.horizon.Advance(o)
	return safe, o.Last > safe, nil
}

// poll hands out every event after the position that is final, and reports how many it read
// and whether committed events wait for older transactions to end.
func (b *Broker) poll(ctx context.Context) (int, bool, error) {
	safe, pending, err := b.safe(ctx)
	if err != nil {
		return 0, false, err
	}
	total := 0
	for {
		b.mu.Lock()
		pos := b.pos
		b.mu.Unlock()
		evs, err := events.Read(ctx, b.cfg.Store.Reader(), pos, safe, "", b.cfg.Page)
		if err != nil {
			return total, pending, err
		}
		b.fanOut(evs)
		total += len(evs)
		if len(evs) < b.cfg.Page {
			return total, pending, nil
		}
	}
}

// fanOut gives each event to the subscribers of its resource; one whose buffer is full is dropped.
func (b *Broker) fanOut(evs []*events.Event) {
	if len(evs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ev := range evs {
		for s := range b.subs {
			if s.resource != ev.Resource {
				continue
			}
			select {
			case s.c <- ev:
			default:
				s.end(ErrLagging)
				delete(b.subs, s)
			}
		}
	}
	b.pos = evs[len(evs)-1].Pos()
}

func (b *Broker) remove(s *Sub) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}
