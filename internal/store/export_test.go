package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kiln-dev/kiln/internal/query"
)

// ListSQL renders the statement List runs, for tests that look at its plan.
func (e *Exec) ListSQL(resource string, q query.List) (string, []any, error) {
	t, err := e.table(resource)
	if err != nil {
		return "", nil, err
	}
	b, err := e.renderList(t, q)
	if err != nil {
		return "", nil, err
	}
	return b.sb.String(), b.args, nil
}

// KeepBatchesOpen makes the SQLite writer's transactions stay open for more writes up to d
// (maxBatchAge otherwise), for tests whose writes must share one on a loaded machine. Call it
// while no write is in flight.
func (s *Store) KeepBatchesOpen(d time.Duration) { s.batch.age = d }

// DirectReads counts the SQLite reads by id that ran on the driver connection (queryDirect).
func (s *Store) DirectReads() int64 { return s.direct.Load() }

// NotifyGap is the least time between two notifications of a Notifier.
const NotifyGap = notifyGap

// SetBeginStatement makes lazily begun transactions send q where they send BEGIN, until the
// returned func restores it (tests that make BEGIN fail). Not for parallel tests.
func SetBeginStatement(q string) (restore func()) {
	old := beginMessages
	beginMessages = encodeBegin(q)
	return func() { beginMessages = old }
}

// SetLazyBegin switches lazy BEGIN on or off (benchmarks compare the two). Not for parallel tests.
func SetLazyBegin(on bool) { lazyBegin = on }

// QueuedWriters counts the SQLite writes waiting for the writer's turn.
func (s *Store) QueuedWriters() int {
	s.batch.mu.Lock()
	defer s.batch.mu.Unlock()
	return len(s.batch.queue)
}

// QueryCount runs a query of one number the way the store runs its own reads (query), for
// tests of cancellation.
func (e *Exec) QueryCount(ctx context.Context, sqlText string) (int64, error) {
	rows, err := e.query(ctx, e.s.dialect.rebind(sqlText), nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, e.s.dialect.interpret(rows.Err())
}

// ExecStatement runs a statement by the store's path for its writes (exec).
func (e *Exec) ExecStatement(ctx context.Context, sqlText string) error {
	_, err := e.exec(ctx, e.s.dialect.rebind(sqlText), nil)
	return err
}

// ConnMutexes reports, for one connection of each SQLite pool (writer, reader, watcher),
// SQLite's sqlite3_db_mutex: 0 for a connection in multi-thread mode.
func (s *Store) ConnMutexes(ctx context.Context) ([]uintptr, error) {
	var out []uintptr
	err := s.eachPoolConn(ctx, func(c *stmtConn) error {
		h := sqliteHandle(c.inner)
		if h == nil {
			return errors.New("no sqlite3 handle found in the driver's connection")
		}
		tls := libc.NewTLS()
		defer tls.Close()
		out = append(out, sqlite3.Xsqlite3_db_mutex(tls, uintptr(h)))
		return nil
	})
	return out, err
}

// eachPoolConn calls f with one connection of each SQLite pool: writer, reader, watcher.
func (s *Store) eachPoolConn(ctx context.Context, f func(*stmtConn) error) error {
	for _, db := range []*sql.DB{s.writer, s.reader, s.watcher} {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		err = conn.Raw(func(dc any) error { return f(dc.(*stmtConn)) })
		_ = conn.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Reprepares runs query on one writer connection once with each of runs' arguments and reports
// how many times SQLite compiled the connection's kept statement again meanwhile
// (SQLITE_STMTSTATUS_REPREPARE; the first run, which prepares it, is not counted). With stable
// the connection plans as the store opened it; with stable false without SQLite's stability
// guarantee while it runs, as it did before stablePlans.
func (s *Store) Reprepares(ctx context.Context, query string, runs [][]any, stable bool) (int, error) {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if !stable { // with stable, the connection plans as the store opened it
		if err := setStablePlans(conn, false); err != nil {
			return 0, err
		}
		defer func() { _ = setStablePlans(conn, true) }()
	}
	var before int
	for i, args := range runs {
		if err := drain(conn.QueryContext(ctx, query, args...)); err != nil {
			return 0, err
		}
		if i == 0 {
			if before, err = reprepared(conn, query); err != nil {
				return 0, err
			}
		}
	}
	after, err := reprepared(conn, query)
	return after - before, err
}

func drain(rows *sql.Rows, err error) error {
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	return errors.Join(rows.Err(), rows.Close())
}

// reprepared is SQLITE_STMTSTATUS_REPREPARE of conn's kept statement for query.
func reprepared(conn *sql.Conn, query string) (int, error) {
	n := -1
	err := conn.Raw(func(dc any) error {
		kept := dc.(*stmtConn).stmts[query]
		if kept == nil {
			return errors.New("the statement was not kept")
		}
		f := reflect.ValueOf(kept.Stmt).Elem().FieldByName("pstmt")
		if !f.IsValid() {
			return errors.New("no statement handle in the driver's statement")
		}
		tls := libc.NewTLS()
		defer tls.Close()
		n = int(sqlite3.Xsqlite3_stmt_status(tls, uintptr(f.Uint()), sqlite3.SQLITE_STMTSTATUS_REPREPARE, 0))
		return nil
	})
	return n, err
}

// setStablePlans turns SQLite's query planner stability guarantee on or off for conn and checks
// that it holds as asked.
func setStablePlans(conn *sql.Conn, on bool) error {
	return conn.Raw(func(dc any) error {
		got, err := qpsg(dc.(*stmtConn), map[bool]int32{true: 1}[on])
		if err == nil && got != on {
			err = fmt.Errorf("query planner stability guarantee is %v, want %v", got, on)
		}
		return err
	})
}

// qpsg sets SQLite's query planner stability guarantee on c (1), off (0) or leaves it (-1),
// and reports whether it is on.
func qpsg(c *stmtConn, onoff int32) (bool, error) {
	h := sqliteHandle(c.inner)
	if h == nil {
		return false, errors.New("no sqlite3 handle found in the driver's connection")
	}
	tls := libc.NewTLS()
	defer tls.Close()
	// The result goes to the TLS's own memory, not to a Go variable: the compiler keeps a
	// variable whose address is only passed as a uintptr on the goroutine's stack, which may
	// move (grow) while SQLite runs, leaving SQLite to write to the old copy.
	bp := tls.Alloc(24)
	defer tls.Free(24)
	res := bp + 16
	va := libc.VaList(bp, onoff, res)
	if sqlite3.Xsqlite3_db_config(tls, uintptr(h), sqlite3.SQLITE_DBCONFIG_ENABLE_QPSG, va) != sqlite3.SQLITE_OK {
		return false, errors.New("sqlite3_db_config failed")
	}
	return **(**int32)(unsafe.Pointer(&res)) != 0, nil // res is TLS memory, outside Go's heap
}

// StablePlans reports, for one connection of each SQLite pool (writer, reader, watcher),
// whether SQLite's query planner stability guarantee is on.
func (s *Store) StablePlans(ctx context.Context) ([]bool, error) {
	var out []bool
	err := s.eachPoolConn(ctx, func(c *stmtConn) error {
		on, err := qpsg(c, -1)
		out = append(out, on)
		return err
	})
	return out, err
}
