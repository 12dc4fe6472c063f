// Package store is Kiln's data layer: the SQLite and PostgreSQL dialects, rendering of the
// query model to parameterized SQL, the record repository and transactions. No driver error
// type leaves this package: each dialect maps them onto the sentinels in errors.go.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kiln-dev/kiln/internal/spec"
)

// Config says which database to open.
type Config struct {
	// URL is a postgres:// URL; empty means SQLite at SQLitePath.
	URL        string
	SQLitePath string
	// MaxReaders bounds the SQLite reader pool (default 4) or the PostgreSQL pool (default 16).
	MaxReaders int
}

func (c Config) validate() error {
	if c.URL == "" && c.SQLitePath == "" {
		return errors.New("store: need a database URL or a SQLite path")
	}
	return nil
}

// Store is an open database with the tables of one spec.
type Store struct {
	dialect dialect
	writer  *sql.DB
	reader  *sql.DB
	watcher *sql.DB // SQLite only: Watcher
	tables  map[string]*table
	stmts   *stmtCache
	pool    *pgxpool.Pool // PostgreSQL only: LISTEN needs a connection of its own
	batch   *batcher      // SQLite only: write transactions commit in groups
	closers []func() error
	queries atomic.Int64
	alone   atomic.Int64 // transactions that committed with their one statement (alone.go)
	grouped atomic.Int64 // of those, the ones that committed in a group of them (pggroup.go)
	blind   atomic.Int64 // updates written blind (update_blind.go)
	// reads by id on PostgreSQL's pool go in groups (pgreads.go); readsGrouped counts them.
	reads        *pgGroups
	readsGrouped atomic.Int64
	// writes alone on PostgreSQL go in groups (pggroup.go), straight on pgx (alone_direct.go).
	writes *pgGroups
	direct atomic.Int64 // SQLite reads by id run on the driver connection (sqlite_direct.go)
	// rollupSQL caches RefreshRollups' statements by parent, child and relation.
	rollupSQL sync.Map
}

// Queries counts the statements run through record operations since Open (for metrics and
// for tests that prove a page costs a constant number of queries).
func (s *Store) Queries() int64 { return s.queries.Load() }

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Open connects, configures the pools and prepares the table model for s.
func Open(ctx context.Context, cfg Config, s *spec.Spec) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var st *Store
	var err error
	if cfg.URL != "" {
		st, err = openPostgres(ctx, cfg)
	} else {
		st, err = openSQLite(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	st.tables = buildTables(s, st.dialect)
	return st, nil
}

// Dialect names the SQL dialect: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.name() }

// Close closes every pool.
func (s *Store) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	return errors.Join(errs...)
}

// Ping checks the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Reader runs statements outside a transaction on the read pool.
func (s *Store) Reader() *Exec { return &Exec{s: s, q: s.reader, db: s.reader} }

// maxTxAttempts bounds how often InTx runs a transaction the database aborted for a
// serialization failure or a deadlock.
const maxTxAttempts = 3

// InTx runs fn in one write transaction, committing when fn returns nil. When PostgreSQL
// aborts the transaction for a serialization failure or a deadlock, or its first statement
// (which carries BEGIN) failed with a connection that died while idle, or SQLite rolled back
// the transaction fn shared with other writes (batcher), nothing of it took effect and fn
// runs again from the start in a new transaction, up to maxTxAttempts times; so fn must
// leave nothing outside tx that a second run would repeat. After that the error is
// ErrUnavailable. On SQLite a write may share its transaction and commit with others that
// waited for the writer at the same time; fn still sees a transaction of its own (a
// savepoint), and InTx returns only after the commit. A unique clash of a record's write is
// explained once the transaction is over (explainClash).
func (s *Store) InTx(ctx context.Context, fn func(tx *Exec) error) error {
	for attempt := 1; ; attempt++ {
		var err error
		if s.batch != nil {
			err = s.batch.run(ctx, s, fn)
		} else if s.writes != nil {
			err = s.inOpenTx(ctx, fn)
		} else {
			err = s.inTx(ctx, fn)
		}
		if err == nil || attempt == maxTxAttempts || !(retryable(err) || beginLost(err) || errors.Is(err, errBatchLost)) {
			return s.explainClash(ctx, err)
		}
		pause := time.Duration(attempt*10+rand.IntN(20)) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

func (s *Store) inTx(ctx context.Context, fn func(tx *Exec) error) (err error) {
	tx, release, err := s.beginWrite(ctx)
	if err != nil && errors.Is(s.dialect.interpret(err), ErrUnavailable) {
		// A pooled connection that died while idle (its server session was ended) fails on
		// BEGIN, before anything ran: one more try on another connection is safe. (A lazily
		// begun transaction on PostgreSQL fails on its first statement instead: beginLost.)
		tx, release, err = s.beginWrite(ctx)
	}
	if err != nil {
		return s.dialect.interpret(err)
	}
	defer release()
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	ex := &Exec{s: s, q: tx, tx: tx, db: s.writer}
	if err = fn(ex); err != nil {
		return txEnded(ctx, err)
	}
	if ex.Sealed() {
		// Its one statement committed it (alone.go): Commit only gives the connection back,
		// and may answer a context that ended since for a transaction that is over.
		_ = tx.Commit()
	} else if err = ctx.Err(); err != nil {
		return ctxEnded(err) // ended before COMMIT was sent: roll back, as database/sql would
	} else if err = tx.Commit(); err != nil {
		return txEnded(ctx, s.dialect.interpret(err))
	}
	for _, f := range ex.afterCommit {
		f()
	}
	return nil
}

// beginWrite begins a write transaction. On PostgreSQL database/sql never sees its context
// end: it would roll the transaction back the moment the context ended, closing the rows of a
// statement that had already committed (a statement alone, alone.go) so that a stored write
// was answered as failed. Each statement runs under the live context instead (pgx cancels it),
// InTx checks the context before COMMIT, and a COMMIT once sent is awaited (lazyTx): the caller
// hears what happened. The wait for a pooled connection still ends with the context. release
// gives the connection back once the transaction is over.
func (s *Store) beginWrite(ctx context.Context) (*sql.Tx, func(), error) {
	if s.dialect.name() != "postgres" {
		tx, err := s.writer.BeginTx(ctx, nil)
		return tx, func() {}, err
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	tx, err := conn.BeginTx(bounded(ctx), nil)
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return tx, func() { _ = conn.Close() }, nil
}

// ctxEnded is a context's error as a statement would have answered it: the deadline as
// ErrTimeout, a cancel as itself.
func ctxEnded(err error) error {
	if t := asTimeout(err, false); t != nil {
		return t
	}
	return err
}

// txEnded is err, unless it is database/sql's ErrTxDone met because ctx ended: database/sql
// rolls a transaction back as soon as its context ends, and the statement or COMMIT after
// that fails with ErrTxDone rather than the context's error. That is the request's deadline
// (ErrTimeout) or its cancel, as the statement itself would have answered — not an internal
// error.
func txEnded(ctx context.Context, err error) error {
	if !errors.Is(err, sql.ErrTxDone) || ctx.Err() == nil {
		return err
	}
	if t := asTimeout(ctx.Err(), false); t != nil {
		return t
	}
	return fmt.Errorf("%w: %w", ctx.Err(), err)
}

// AfterCommit runs f once the transaction e belongs to has committed (never when it rolls
// back). f must be quick and must not fail: it only signals (wakes a relay, say).
func (e *Exec) AfterCommit(f func()) {
	if !e.inTransaction() {
		f()
		return
	}
	e.afterCommit = append(e.afterCommit, f)
}

// Exec runs store operations on a pool or inside a transaction.
type Exec struct {
	s  *Store
	q  querier
	tx *sql.Tx
	db *sql.DB
	// open is a PostgreSQL write transaction begun on its first statement (pgopen.go).
	open *openTx
	// afterCommit run once the transaction committed.
	afterCommit []func()
}

// Dialect names the SQL dialect the executor runs on: "sqlite" or "postgres".
func (e *Exec) Dialect() string { return e.s.dialect.name() }

// ExecDDL runs schema statements (from the spec, never from a request) on this executor.
func (e *Exec) ExecDDL(ctx context.Context, sqlText string) error {
	if _, err := e.q.ExecContext(ctx, sqlText); err != nil {
		return fmt.Errorf("exec schema statement: %w", e.s.dialect.interpret(err))
	}
	return nil
}

// QueryRaw runs a fixed internal query (migration bookkeeping) with arguments.
func (e *Exec) QueryRaw(ctx context.Context, sqlText string, args ...any) (*sql.Rows, error) {
	rows, err := e.q.QueryContext(ctx, e.s.dialect.rebind(sqlText), args...)
	if err != nil {
		return nil, e.s.dialect.interpret(err)
	}
	return rows, nil
}

// ExecRawCount runs a fixed internal statement and returns how many rows it changed.
func (e *Exec) ExecRawCount(ctx context.Context, sqlText string, args ...any) (int64, error) {
	res, err := e.q.ExecContext(ctx, e.s.dialect.rebind(sqlText), args...)
	if err != nil {
		return 0, e.s.dialect.interpret(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// ExecRaw runs a fixed internal statement (migration bookkeeping) with arguments.
func (e *Exec) ExecRaw(ctx context.Context, sqlText string, args ...any) error {
	if _, err := e.q.ExecContext(ctx, e.s.dialect.rebind(sqlText), args...); err != nil {
		return e.s.dialect.interpret(err)
	}
	return nil
}

// PrepareStatements prepares each table's fixed statements on the writer pool once the
// schema is in place: inside a transaction the single SQLite writer connection is busy, so
// none can be prepared then. Without it, writes still work, unprepared.
func (s *Store) PrepareStatements(ctx context.Context) error {
	if s.stmts == nil {
		return nil
	}
	for _, t := range s.tables {
		for _, q := range []string{t.insertSQL, t.updateSQL, t.updateIfSQL, t.getSQL} {
			if s.stmts.get(ctx, s.writer, q, true) == nil {
				return fmt.Errorf("prepare statements for %s: the table is missing or differs from the spec", t.name)
			}
		}
	}
	return nil
}

func (e *Exec) stmt(ctx context.Context, sqlText string) *sql.Stmt {
	if e.open != nil {
		return nil // PostgreSQL prepares through pgx's statement cache (stmtCache is SQLite's)
	}
	stmt := e.s.stmts.get(ctx, e.db, sqlText, e.tx == nil)
	if stmt != nil && e.tx != nil {
		stmt = e.tx.StmtContext(ctx, stmt)
	}
	return stmt
}

func (e *Exec) query(ctx context.Context, sqlText string, args []any) (*sql.Rows, error) {
	rows, err := e.queryOnce(ctx, sqlText, args)
	if err != nil && !e.inTransaction() && errors.Is(err, ErrUnavailable) {
		// A read outside a transaction changes nothing: a connection that died while idle
		// gets one more try on another.
		rows, err = e.queryOnce(ctx, sqlText, args)
	}
	return rows, err
}

func (e *Exec) queryOnce(ctx context.Context, sqlText string, args []any) (*sql.Rows, error) {
	e.s.queries.Add(1)
	if stmt := e.stmt(ctx, sqlText); stmt != nil {
		rows, err := stmt.QueryContext(ctx, args...)
		return rows, e.s.dialect.interpret(err)
	}
	rows, err := e.q.QueryContext(ctx, sqlText, args...)
	return rows, e.s.dialect.interpret(err)
}

func (e *Exec) exec(ctx context.Context, sqlText string, args []any) (sql.Result, error) {
	e.s.queries.Add(1)
	if stmt := e.stmt(ctx, sqlText); stmt != nil {
		res, err := stmt.ExecContext(ctx, args...)
		return res, e.s.dialect.interpret(err)
	}
	res, err := e.q.ExecContext(ctx, sqlText, args...)
	return res, e.s.dialect.interpret(err)
}

// stmtCache keeps prepared statements per pool. It is nil for PostgreSQL, where pgx
// already caches prepared statements per connection.
type stmtCache struct {
	mu    sync.RWMutex
	max   int
	stmts map[*sql.DB]map[string]*sql.Stmt
}

func newStmtCache(max int) *stmtCache {
	return &stmtCache{max: max, stmts: map[*sql.DB]map[string]*sql.Stmt{}}
}

// get returns the cached statement for sqlText, preparing it on db when prepare is set.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, sqlText string, prepare bool) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	stmt := c.stmts[db][sqlText]
	n := len(c.stmts[db])
	c.mu.RUnlock()
	if stmt != nil || n >= c.max || !prepare {
		return stmt
	}
	prepared, err := db.PrepareContext(ctx, sqlText)
	if err != nil {
		return nil // the plain path reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if existing := c.stmts[db][sqlText]; existing != nil {
		_ = prepared.Close()
		return existing
	}
	if c.stmts[db] == nil {
		c.stmts[db] = map[string]*sql.Stmt{}
	}
	c.stmts[db][sqlText] = prepared
	return prepared
}

func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.stmts {
		for _, s := range m {
			_ = s.Close()
		}
	}
	c.stmts = map[*sql.DB]map[string]*sql.Stmt{}
	return nil
}

// Writer is the pool writes go through: on SQLite its single connection, which the job
// queue shares (docs/jobs.md); on PostgreSQL the shared pool.
func (s *Store) Writer() *sql.DB { return s.writer }

// Watcher is a read-only pool of one connection of its own (SQLite only; nil on
// PostgreSQL), for a poller that must neither wait behind requests for a reader nor take the
// writer: River's listener (internal/jobs/listen.go).
func (s *Store) Watcher() *sql.DB { return s.watcher }

// Pool is the native PostgreSQL pool (nil on SQLite), for the job queue's workers.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Connections is how many connections the PostgreSQL pool opens at most; 0 on SQLite.
func (s *Store) Connections() int {
	if s.pool == nil {
		return 0
	}
	return int(s.pool.Config().MaxConns)
}
