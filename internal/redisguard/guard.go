// Package redisguard makes Redis an accelerator that is never a single point of failure:
// every call runs under a short deadline, and a circuit breaker stops calling Redis after
// repeated failures, probes it in the background and lets it back in once it answers. While
// Redis is out, Do fails at once with ErrUnavailable and callers use their in-process state.
package redisguard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ErrUnavailable means Redis is out (the breaker is open) or a call failed; the caller falls back.
var ErrUnavailable = errors.New("redis unavailable")

// Config configures a Guard; zero values take the defaults.
type Config struct {
	URL string
	// Timeout bounds each call, dial included; default 50 ms.
	Timeout time.Duration
	// TripAfter is how many failed calls in a row open the breaker; default 3.
	TripAfter int
	// ProbeInterval is how often an open breaker pings Redis; default 1 s.
	ProbeInterval time.Duration
	Logger        *slog.Logger
}

func (c Config) withDefaults() Config {
	c.Timeout = cmp.Or(c.Timeout, 50*time.Millisecond)
	c.TripAfter = cmp.Or(c.TripAfter, 3)
	c.ProbeInterval = cmp.Or(c.ProbeInterval, time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Guard is a Redis client behind a deadline and a circuit breaker.
type Guard struct {
	cfg    Config
	client *redis.Client
	addr   string

	mu        sync.Mutex
	down      bool
	failures  int
	downSince time.Time
	closed    bool
	stop      chan struct{}
	probes    sync.WaitGroup
}

// Open makes the client and pings Redis once. A Redis that does not answer is no error: the
// Guard starts open (down), logs why, and probes until Redis answers. Only a malformed URL fails.
func Open(cfg Config) (*Guard, error) {
	cfg = cfg.withDefaults()
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, errors.New("redis.url is not a valid redis:// URL") // the URL may hold a password
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = cfg.Timeout, cfg.Timeout, cfg.Timeout, cfg.Timeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1   // a retry would double the deadline; the caller falls back instead
	opts.DialerRetries = 1 // likewise for dials
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	g := &Guard{cfg: cfg, client: redis.NewClient(opts), addr: opts.Addr, stop: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	if err := g.client.Ping(ctx).Err(); err != nil {
		g.trip(err, "at start")
	}
	return g, nil
}

// Client is the underlying client, for callers that need its options (tests).
func (g *Guard) Client() *redis.Client { return g.client }

// Up reports whether calls currently go to Redis (the breaker is closed).
func (g *Guard) Up() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.down
}

// Do runs fn against Redis under the deadline. While the breaker is open it returns
// ErrUnavailable without calling fn; a failed call is counted and returned wrapping
// ErrUnavailable. redis.Nil (no such key) is an answer, not a failure.
func (g *Guard) Do(ctx context.Context, fn func(ctx context.Context, c *redis.Client) error) error {
	if !g.Up() {
		return ErrUnavailable
	}
	cctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	err := fn(cctx, g.client)
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		g.succeeded()
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, err) // the caller gave up: says nothing of Redis
	}
	g.failed(err)
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (g *Guard) succeeded() {
	g.mu.Lock()
	g.failures = 0
	g.mu.Unlock()
}

func (g *Guard) failed(err error) {
	g.mu.Lock()
	g.failures++
	trip := !g.down && g.failures >= g.cfg.TripAfter
	g.mu.Unlock()
	if trip {
		g.trip(err, "")
	}
}

// trip opens the breaker, logs the one "down" line with its cause, and starts the prober.
func (g *Guard) trip(cause error, when string) {
	g.mu.Lock()
	if g.down || g.closed {
		g.mu.Unlock()
		return
	}
	g.down, g.downSince = true, time.Now()
	g.probes.Add(1)
	g.mu.Unlock()
	attrs := []any{"addr", g.addr, "cause", cause.Error(), "timeout_ms", g.cfg.Timeout.Milliseconds(),
		"probe_interval_ms", g.cfg.ProbeInterval.Milliseconds()}
	if when != "" {
		attrs = append(attrs, "when", when)
	}
	g.cfg.Logger.Warn("redis unavailable: using in-process rate limits and login back-off", attrs...)
	go g.probe()
}

// probe pings Redis every ProbeInterval until it answers, then closes the breaker.
func (g *Guard) probe() {
	defer g.probes.Done()
	tick := time.NewTicker(g.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timeout)
		err := g.client.Ping(ctx).Err()
		cancel()
		if err != nil {
			continue
		}
		g.mu.Lock()
		down := time.Since(g.downSince)
		g.down, g.failures = false, 0
		g.mu.Unlock()
		g.cfg.Logger.Info("redis available again: sharing rate limits and login back-off", "addr", g.addr,
			"down_ms", down.Milliseconds())
		return
	}
}

// Close stops the prober and closes the client.
func (g *Guard) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	close(g.stop)
	g.mu.Unlock()
	g.probes.Wait()
	return g.client.Close()
}
