// Package revocation makes revoked sessions and changed accounts reach every instance within a
// bound. Revocations are rows of kiln_revocations, written in the transaction that revokes and
// numbered in commit order; each instance keeps them in memory and catches up on a PostgreSQL
// NOTIFY at once, on a poll every second at the latest, and — should both fail — on the request
// itself once its view is older than the bound. docs/scaling.md describes the design.
package revocation

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// Kinds of entries.
const (
	// KindSession revokes a session: access tokens carrying its id are refused.
	KindSession = "session"
	// KindAccount says an account changed (role, disabled, deleted): caches of it are dropped.
	KindAccount = "account"
	// KindAccountTokens refuses every access token of an account issued up to the entry's time
	// (disabling an account), whatever its session.
	KindAccountTokens = "account_tokens"
)

// channel is the NOTIFY channel that wakes the instances after a revocation commits.
const channel = "kiln_revocations"

// Config configures a List.
type Config struct {
	Store *store.Store
	// Retain is how long an entry matters: the access-token lifetime plus its clock leeway.
	Retain time.Duration
	// Poll is how often an instance reads new entries without being woken; default 1 s.
	Poll time.Duration
	// Bound is the longest an instance goes on accepting a revoked token; default 5 s. A
	// request that finds the in-memory view older than this reads the table itself.
	Bound time.Duration
	// OnAccount hears of every account entry (the role cache drops it).
	OnAccount func(accountID string)
	Logger    *slog.Logger
	Now       func() time.Time
}

func (c Config) withDefaults() Config {
	c.Poll = cmp.Or(c.Poll, time.Second)
	c.Bound = cmp.Or(c.Bound, 5*time.Second)
	c.Retain = cmp.Or(c.Retain, 15*time.Minute)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.OnAccount == nil {
		c.OnAccount = func(string) {}
	}
	return c
}

// Entry is one revocation.
type Entry struct {
	Kind    string
	Subject string
	At      time.Time
}

// List is this instance's view of the revocations.
type List struct {
	cfg Config

	mu       sync.RWMutex
	cursor   int64                // the highest seq applied
	synced   time.Time            // when the last successful read of the table started
	sessions map[string]time.Time // session id → when its entry stops mattering
	cutoffs  map[string]cutoff    // account id → tokens issued up to at are refused

	syncMu sync.Mutex // one read of the table at a time
	stop   context.CancelFunc
	done   sync.WaitGroup
}

type cutoff struct{ at, expires time.Time }

// New makes a List; Start loads it and keeps it current.
func New(cfg Config) *List {
	return &List{cfg: cfg.withDefaults(), sessions: map[string]time.Time{}, cutoffs: map[string]cutoff{}}
}

// Start reads the table once, then keeps the view current in the background (LISTEN where the
// database has it, a poll always) until Close.
func (l *List) Start(ctx context.Context) error {
	if err := l.Sync(ctx); err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.stop = cancel
	wake := make(chan struct{}, 1)
	l.done.Add(2)
	go func() {
		defer l.done.Done()
		_ = l.cfg.Store.Listen(bg, channel, func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
	}()
	go l.follow(bg, wake)
	return nil
}

// follow reads new entries when woken and every Poll, and prunes the table now and then.
func (l *List) follow(ctx context.Context, wake <-chan struct{}) {
	defer l.done.Done()
	tick := time.NewTicker(l.cfg.Poll)
	defer tick.Stop()
	lastPrune := l.cfg.Now()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		}
		err := l.Sync(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			failing = true
			l.cfg.Logger.Warn("revocation list cannot be read: requests read it themselves once it is stale",
				"cause", err.Error(), "bound_ms", l.cfg.Bound.Milliseconds())
		case err == nil && failing:
			failing = false
			l.cfg.Logger.Info("revocation list read again")
		}
		if now := l.cfg.Now(); now.Sub(lastPrune) > pruneEvery {
			lastPrune = now
			l.prune(ctx)
		}
	}
}

// Close stops the background work.
func (l *List) Close() error {
	if l.stop != nil {
		l.stop()
		l.done.Wait()
	}
	return nil
}

// Revoked reports whether an access token must be refused: its session was revoked, or its
// account's tokens were cut off after it was issued. iat has whole seconds, so a cutoff spares
// the tokens issued in its own second — those issued after it (an account disabled and enabled
// again at once must be able to sign in) and those without a session issued just before it
// (tokens with one die with their revoked session). When the view is older than the bound it
// reads the table first; if that fails the error (store.ErrUnavailable) is returned, never a guess.
func (l *List) Revoked(ctx context.Context, sessionID, accountID string, issuedAt time.Time) (bool, error) {
	if l.stale() {
		if err := l.Sync(ctx); err != nil {
			return false, err
		}
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if sessionID != "" {
		if _, ok := l.sessions[sessionID]; ok {
			return true, nil
		}
	}
	c, ok := l.cutoffs[accountID]
	return ok && issuedAt.Before(c.at.Truncate(time.Second)), nil
}

func (l *List) stale() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cfg.Now().Sub(l.synced) >= l.cfg.Bound
}

// Applied records entries this instance just committed, so it refuses at once rather than
// when it next reads the table.
func (l *List) Applied(entries []Entry) {
	l.mu.Lock()
	for _, e := range entries {
		l.apply(e)
	}
	l.mu.Unlock()
	l.notifyAccounts(entries)
}

// apply adds one entry to the view; l.mu is held.
func (l *List) apply(e Entry) {
	expires := e.At.Add(l.cfg.Retain)
	switch e.Kind {
	case KindSession:
		l.sessions[e.Subject] = expires
	case KindAccountTokens:
		if c, ok := l.cutoffs[e.Subject]; !ok || e.At.After(c.at) {
			l.cutoffs[e.Subject] = cutoff{at: e.At, expires: expires}
		}
	}
}

func (l *List) notifyAccounts(entries []Entry) {
	for _, e := range entries {
		if e.Kind == KindAccount || e.Kind == KindAccountTokens {
			l.cfg.OnAccount(e.Subject)
		}
	}
}
