// Package ratelimit counts requests per key in fixed windows: in memory for one instance, or
// in Redis so that every instance shares one bucket per key.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limit is a number of requests per window.
type Limit struct {
	Requests int
	Window   time.Duration
}

// ParseLimit reads "60/min", "10/s", "1000/h" or "100/30s".
func ParseLimit(s string) (Limit, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count <= 0 {
		return Limit{}, fmt.Errorf("rate limit %q: want N/window such as 60/min", s)
	}
	units := map[string]time.Duration{"s": time.Second, "sec": time.Second, "min": time.Minute, "m": time.Minute, "h": time.Hour, "hour": time.Hour, "day": 24 * time.Hour}
	if d, ok := units[per]; ok {
		return Limit{Requests: count, Window: d}, nil
	}
	d, err := time.ParseDuration(per)
	if err != nil || d < time.Second {
		return Limit{}, fmt.Errorf("rate limit %q: window must be s, min, h, day or a duration of at least 1s", s)
	}
	return Limit{Requests: count, Window: d}, nil
}

// Result is one decision.
type Result struct {
	Allowed   bool
	Limit     int
	Remaining int
	Reset     time.Duration // until the window ends
}

// Limiter decides whether a request under key may proceed.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

func decide(count int64, l Limit, reset time.Duration) Result {
	remaining := l.Requests - int(count)
	return Result{Allowed: remaining >= 0, Limit: l.Requests, Remaining: max(remaining, 0), Reset: reset}
}

// Memory is a Limiter for a single instance.
type Memory struct {
	mu     sync.Mutex
	now    func() time.Time
	counts map[memKey]memCount
	sweep  time.Time
}

// memKey is a key's budget under one window length: the same key under two limits of
// different windows counts twice.
type memKey struct {
	key    string
	window time.Duration
}

// memCount is one key's window: it starts at the key's first request and lasts l.Window
// (windows are per key, not aligned to the clock).
type memCount struct {
	count int64
	until time.Time
}

var _ Limiter = (*Memory)(nil)

// NewMemory makes an in-memory limiter; now defaults to time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, counts: map[memKey]memCount{}}
}

// Allow counts one request for key.
func (m *Memory) Allow(_ context.Context, key string, l Limit) (Result, error) {
	now := m.now()
	k := memKey{key, l.Window}
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.After(m.sweep) {
		for kk, c := range m.counts {
			if now.After(c.until) {
				delete(m.counts, kk)
			}
		}
		m.sweep = now.Add(time.Minute)
	}
	c, ok := m.counts[k]
	if !ok || !now.Before(c.until) {
		c = memCount{until: now.Add(l.Window)}
	}
	c.count++
	m.counts[k] = c
	return decide(c.count, l, c.until.Sub(now)), nil
}
