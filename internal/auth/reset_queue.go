package auth

import (
	"context"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/internal/service"
)

// resetQueueSize bounds the reset requests waiting for their mail; a full queue answers 429.
const resetQueueSize = 256

// resetTimeout bounds the work for one reset request (lookup, token, mail).
const resetTimeout = 30 * time.Second

// resetDelay is how long the worker lets a request's answer go out before handling it.
const resetDelay = 100 * time.Millisecond

// resetQueue hands password-reset requests to a worker, so the answer to a request does the
// same work — and takes the same time — whether or not the email has an account: looking the
// account up, issuing its token and sending its mail happen after the answer. The worker
// waits resetDelay before a batch, so that work never overlaps the answer that caused it (on
// a busy machine it would slow that answer down, which is the very signal to hide).
type resetQueue struct {
	mu      sync.Mutex
	closed  bool
	work    chan string
	pending sync.WaitGroup
	flush   chan struct{}
	stopped chan struct{}
}

func newResetQueue(handle func(ctx context.Context, email string)) *resetQueue {
	q := &resetQueue{work: make(chan string, resetQueueSize), flush: make(chan struct{}, 1), stopped: make(chan struct{})}
	go q.run(handle)
	return q
}

func (q *resetQueue) run(handle func(ctx context.Context, email string)) {
	defer close(q.stopped)
	do := func(email string) {
		ctx, cancel := context.WithTimeout(context.Background(), resetTimeout)
		defer cancel()
		handle(ctx, email)
		q.pending.Done()
	}
	for first := range q.work {
		timer := time.NewTimer(resetDelay)
		select {
		case <-timer.C:
		case <-q.flush:
			timer.Stop()
		}
		do(first)
		for more := true; more; {
			select {
			case email, ok := <-q.work:
				if !ok {
					return
				}
				do(email)
			default:
				more = false
			}
		}
	}
}

// add queues one request; false when the queue is full or closed.
func (q *resetQueue) add(email string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.pending.Add(1)
	select {
	case q.work <- email:
		return true
	default:
		q.pending.Done()
		return false
	}
}

// close stops taking requests and waits until the queued ones are handled.
func (q *resetQueue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.work)
	}
	q.mu.Unlock()
	select {
	case q.flush <- struct{}{}:
	default:
	}
	<-q.stopped
}

// RequestReset queues a single-use reset link for email, answered at once and alike for
// every address: it tells nobody which emails have accounts (by answer or by timing).
// Budgets per address and per email are the transport's (server.rate_limits.password_reset).
func (a *Accounts) RequestReset(_ context.Context, email string) error {
	if !a.resets.add(normalEmail(email)) {
		return &service.Error{Code: service.CodeRateLimited, Message: "too many password resets are waiting: try again in a minute", RetryAfter: 60}
	}
	return nil
}

// FlushResets handles every queued reset request now and waits until they are done (tests).
func (a *Accounts) FlushResets() {
	select {
	case a.resets.flush <- struct{}{}:
	default:
	}
	a.resets.pending.Wait()
}

// Close stops the reset worker after it has handled what is queued.
func (a *Accounts) Close() error {
	a.resets.close()
	return nil
}

// sendReset mails a reset link when the email has an enabled account; errors are logged,
// never answered (the request was answered already).
func (a *Accounts) sendReset(ctx context.Context, email string) {
	rec, err := a.byEmail(ctx, email)
	if err == nil && rec != nil && !a.disabled(rec) {
		var token string
		if token, err = a.issueActionToken(ctx, purposeReset, rec.ID, resetTTL); err == nil {
			err = a.mail(ctx, rec, "reset", token)
		}
	}
	if err != nil && a.cfg.Logger != nil {
		a.cfg.Logger.ErrorContext(ctx, "password reset mail failed", "error", err.Error())
	}
}
