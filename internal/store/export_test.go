package store

import (
	"context"
	"database/sql"
	"errors"

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
	for _, db := range []*sql.DB{s.writer, s.reader, s.watcher} {
		conn, err := db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		err = conn.Raw(func(dc any) error {
			h := sqliteHandle(dc.(*stmtConn).inner)
			if h == nil {
				return errors.New("no sqlite3 handle found in the driver's connection")
			}
			tls := libc.NewTLS()
			defer tls.Close()
			out = append(out, sqlite3.Xsqlite3_db_mutex(tls, uintptr(h)))
			return nil
		})
		_ = conn.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
