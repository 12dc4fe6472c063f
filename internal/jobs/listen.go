package jobs

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// SQLite has no LISTEN/NOTIFY: River's SQLite driver writes notifications (jobs inserted,
// jobs cancelled, leadership) to a table and its listener reads that table every 50 ms,
// through the one writer connection — twenty queries a second, most of an idle server's
// CPU. Kiln's listener reads it through a read-only connection of its own (the store's
// Watcher: never queued behind requests for a reader, nor behind writes) at its own pace: at
// once when this process committed something River will have noted (wake), then every
// listenFast, doubling while nothing arrives up to listenIdle. Notifications written by other
// processes, or by River's own services here (scheduled and retried jobs becoming
// available), are seen within listenIdle; producers also look for jobs every PollInterval
// whatever the listener hears.
const (
	listenFast  = 50 * time.Millisecond
	listenIdle  = time.Second
	listenSlice = 40 * time.Millisecond
)

// sqliteDriver is River's SQLite driver with a pacedListener.
type sqliteDriver struct {
	*riversqlite.Driver
	watcher *sql.DB
	pace    *pace
}

func newSQLiteDriver(writer, watcher *sql.DB) *sqliteDriver {
	return &sqliteDriver{Driver: riversqlite.New(writer), watcher: watcher, pace: newPace(listenFast, listenIdle)}
}

// GetListener returns River's SQLite listener, reading through the watcher, paced.
func (d *sqliteDriver) GetListener(p *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &pacedListener{Listener: riversqlite.New(d.watcher).GetListener(p), pace: d.pace}
}

// pace is when the listeners read next; it wakes them all at once. It outlives their
// WaitForNotification calls: River's notifier ends one every five seconds to ping, and the
// next call keeps to the same rhythm.
type pace struct {
	mu         sync.Mutex
	fast, idle time.Duration // the shortest and the longest wait
	wait       time.Duration // after the next read that finds nothing
	due        time.Time     // of the next read
	awake      chan struct{} // closed (and replaced) by wake
	now        func() time.Time
}

func newPace(fast, idle time.Duration) *pace {
	return &pace{fast: fast, idle: idle, wait: fast, awake: make(chan struct{}), now: time.Now}
}

// wake makes every listener read the table now and keep listening closely for a while.
func (p *pace) wake() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.awake)
	p.awake = make(chan struct{})
	p.wait, p.due = p.fast, time.Time{}
}

// untilDue returns how long until the next read and the channel a wake closes.
func (p *pace) untilDue() (time.Duration, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.due.Sub(p.now()), p.awake
}

// heard: a read found a notification; read again at once (more may be waiting).
func (p *pace) heard() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wait, p.due = p.fast, time.Time{}
}

// missed: a read found nothing; the next is a wait away, and the wait after it doubles,
// up to idle.
func (p *pace) missed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.due = p.now().Add(p.wait)
	p.wait = min(2*p.wait, p.idle)
}

// pacedListener is River's listener, asked to read once at a time.
type pacedListener struct {
	riverdriver.Listener
	pace *pace
}

// WaitForNotification reads when the pace says, until a notification arrives or ctx ends.
func (l *pacedListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	for {
		if d, awake := l.pace.untilDue(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-awake:
			case <-t.C:
			}
			t.Stop()
		}
		n, err := l.readOnce(ctx)
		if n != nil || err != nil {
			return n, err
		}
		l.pace.missed()
	}
}

// readOnce lets River's listener read the table once: it reads at once and, finding
// nothing, waits its own 50 ms, which listenSlice cuts short. The read has the watcher's
// connection to itself, so it ends well within the slice; one the slice cut (a starved
// process) counts as empty and loses nothing: River's listener moves its cursor only past
// rows it read.
func (l *pacedListener) readOnce(ctx context.Context) (*riverdriver.Notification, error) {
	slice, cancel := context.WithTimeout(ctx, listenSlice)
	defer cancel()
	n, err := l.Listener.WaitForNotification(slice)
	switch {
	case err == nil:
		l.pace.heard()
		return n, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case slice.Err() != nil:
		return nil, nil
	default:
		return nil, err
	}
}
