package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// jobsBench is one end-to-end queue measure: enqueuers insert n jobs, batch per transaction
// (1: as writes with a trigger do), while the workers run them; the clock stops when the
// last job is recorded completed in the database.
type jobsBench struct {
	n, workers, enqueuers int
	batch                 int // jobs per enqueue transaction
	cooldown, poll        time.Duration
}

// runJobs measures jobs per second on SQLite (a file in dir) and, when pgURL is set, on a
// fresh PostgreSQL schema.
func runJobs(dir, pgURL string, jb jobsBench) error {
	fmt.Printf("jobs: %d, %d per transaction from %d enqueuers; %d workers; fetch cooldown %s, poll %s; GOMAXPROCS=%d\n\n",
		jb.n, jb.batch, jb.enqueuers, jb.workers, jb.cooldown, jb.poll, runtime.GOMAXPROCS(0))
	fmt.Printf("| database | enqueued/s | completed/s (enqueue → handler → completed) | seconds |\n| --- | ---: | ---: | ---: |\n")
	targets := []struct{ name, url string }{{"sqlite", ""}}
	if pgURL != "" {
		u, drop, err := freshSchema(pgURL)
		if err != nil {
			return err
		}
		defer drop()
		targets = append(targets, struct{ name, url string }{"postgres", u})
	}
	for _, tg := range targets {
		cfg := store.Config{URL: tg.url, SQLitePath: filepath.Join(dir, "jobs-"+tg.name+".db")}
		if err := jb.run(tg.name, cfg); err != nil {
			return fmt.Errorf("%s: %w", tg.name, err)
		}
	}
	return nil
}

func (jb jobsBench) run(name string, cfg store.Config) error {
	ctx := context.Background()
	st, err := store.Open(ctx, cfg, &spec.Spec{})
	if err != nil {
		return err
	}
	defer st.Close()
	var handled atomic.Int64
	q, err := jobs.New(jobs.Config{Store: st, Queues: map[string]int{jobs.DefaultQueue: jb.workers}, FetchCooldown: jb.cooldown,
		PollInterval: jb.poll, StatsInterval: -1,
		Kinds: []jobs.Kind{{Name: "bench", Handle: func(context.Context, *jobs.Job) error { handled.Add(1); return nil }}}})
	if err != nil {
		return err
	}
	if err := q.Migrate(ctx); err != nil {
		return err
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = q.Stop(ctx) }()
	start := time.Now()
	enqueued, err := jb.enqueue(ctx, q)
	if err != nil {
		return err
	}
	for {
		n, err := completed(ctx, st)
		if err != nil {
			return err
		}
		if n >= int64(jb.n) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	total := time.Since(start)
	fmt.Printf("| %s | %.0f | %.0f | %.2f |\n", name, float64(jb.n)/enqueued.Seconds(), float64(jb.n)/total.Seconds(), total.Seconds())
	if h := handled.Load(); h < int64(jb.n) {
		return fmt.Errorf("%d jobs completed but the handler ran %d times", jb.n, h)
	}
	return nil
}

// enqueue inserts jb.n jobs from jb.enqueuers goroutines and returns how long it took.
func (jb jobsBench) enqueue(ctx context.Context, q *jobs.Queue) (time.Duration, error) {
	start := time.Now()
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range jb.enqueuers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(jb.n/jb.batch); i = next.Add(1) {
				rs := make([]jobs.Request, jb.batch)
				for k := range rs {
					rs[k] = jobs.Request{Kind: "bench", Args: map[string]int64{"i": i, "k": int64(k)}}
				}
				err := q.Store().InTx(ctx, func(tx *store.Exec) error { return q.EnqueueManyTx(ctx, tx, rs) })
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}

func completed(ctx context.Context, st *store.Store) (int64, error) {
	rows, err := st.Reader().QueryRaw(ctx, "SELECT COUNT(*) FROM river_job WHERE state = 'completed'")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		err = rows.Scan(&n)
	}
	return n, err
}

// freshSchema creates a schema of its own on the PostgreSQL at base and returns a URL whose
// search_path points at it, and a function that drops it.
func freshSchema(base string) (string, func(), error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "kiln_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = conn.Close(ctx)
		return "", nil, err
	}
	drop := func() {
		_, _ = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		_ = conn.Close(ctx)
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	qv := u.Query()
	qv.Set("search_path", schema)
	u.RawQuery = qv.Encode()
	return u.String(), drop, nil
}
