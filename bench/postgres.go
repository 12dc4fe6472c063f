package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// runPostgres measures Kiln on PostgreSQL against the baseline's pgx mode: each server gets
// a database of its own, created on the PostgreSQL at o.pgURL and dropped afterwards. A
// server's CPU per request adds that of the PostgreSQL backends serving it (both run here).
func runPostgres(o options, dir string, bins binaries) error {
	ctx := context.Background()
	admin, err := newPGAdmin(ctx, o.pgURL)
	if err != nil {
		return err
	}
	defer admin.close()
	o.interrupt.add(admin.close)
	dir = filepath.Join(dir, "pg")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	servers, err := startPostgresSet(ctx, admin, o, dir, bins)
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	if err != nil {
		return err
	}
	// Warm up: the pools open their connections (and the baseline prepares its statements on
	// each) before anything is measured.
	for _, s := range servers {
		_ = load(s, scenarios()[0].make(s.paths, s.ids), o.workers, time.Second)
	}
	rows, err := measure(servers, o)
	if err != nil {
		return err
	}
	fmt.Printf("PostgreSQL %s (CPU µs/req: the server process + the PostgreSQL backends of its database)\n\n", admin.version)
	names := []string{servers[0].name, servers[1].name}
	printLoad(names, rows, true)
	return nil
}

// startPostgresSet creates, seeds and serves the baseline's and Kiln's databases.
func startPostgresSet(ctx context.Context, admin *pgAdmin, o options, dir string, bins binaries) ([]*server, error) {
	baseURL, err := admin.createDatabase(ctx, "baseline")
	if err != nil {
		return nil, err
	}
	kilnURL, err := admin.createDatabase(ctx, "kiln")
	if err != nil {
		return nil, err
	}
	base, err := startBaseline(bins.baseline, dir, o.rows, []string{"-postgres", baseURL})
	if err != nil {
		return nil, err
	}
	servers := []*server{base}
	k, err := startKilnServer(ctx, bins.kiln, dir, kilnURL, o.rows)
	if err != nil {
		return servers, err
	}
	servers = append(servers, k)
	for i, u := range []string{baseURL, kilnURL} {
		if err := vacuumAnalyze(ctx, u); err != nil { // fresh statistics for both, as after a load
			return servers, err
		}
		servers[i].db = &pgBackends{admin: admin, db: admin.dbs[i]}
	}
	return servers, nil
}

// pgAdmin holds the connection that creates, watches and drops the servers' databases.
type pgAdmin struct {
	mu      sync.Mutex
	conn    *pgx.Conn
	base    *url.URL
	prefix  string
	dbs     []string
	version string
}

func newPGAdmin(ctx context.Context, raw string) (*pgAdmin, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	a := &pgAdmin{conn: conn, base: u}
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&a.version); err != nil {
		_ = conn.Close(ctx)
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	a.prefix = "kiln_bench_" + hex.EncodeToString(b[:]) + "_"
	return a, nil
}

// createDatabase creates kiln_bench_<random>_<name> and returns its URL.
func (a *pgAdmin) createDatabase(ctx context.Context, name string) (string, error) {
	db := a.prefix + name
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return "", fmt.Errorf("create database %s: %w", db, err)
	}
	a.dbs = append(a.dbs, db)
	u := *a.base
	u.Path = "/" + db
	return u.String(), nil
}

// close drops the databases it created (the servers are stopped by then; FORCE ends what is
// left). An interrupted run calls it from its signal handler, maybe twice: once is enough.
func (a *pgAdmin) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	ctx := context.Background()
	dbs := a.dbs
	a.dbs = nil
	for _, db := range dbs {
		if _, err := a.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop database %s: %v\n", db, err)
		}
	}
	_ = a.conn.Close(ctx)
}

func vacuumAnalyze(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "VACUUM ANALYZE")
	return err
}

// pgBackends finds the PostgreSQL processes that serve one server: the client backends
// connected to its database (pg_stat_activity), whose CPU time /proc holds as for any process.
// Autovacuum workers and the server's shared processes (WAL writer, checkpointer) are left out.
type pgBackends struct {
	admin *pgAdmin
	db    string
}

// cpu is each backend's CPU time so far, by pid.
func (b *pgBackends) cpu() map[int]time.Duration {
	b.admin.mu.Lock()
	defer b.admin.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := b.admin.conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", b.db)
	if err != nil {
		return nil
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		out[int(pid)] = procCPU(int(pid))
	}
	return out
}

// since is the CPU the backends spent after before was taken; a backend that started since
// counts from zero (its connection's start is part of the work), one that ended is lost.
func (b *pgBackends) since(before map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, t := range b.cpu() {
		d += max(0, t-before[pid])
	}
	return d
}
