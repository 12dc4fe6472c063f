package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
)

// A read of records outside a transaction on SQLite (records, firstOn) runs its statement on
// the driver connection itself: database/sql's Rows (its struct and locks, the column slice it
// keeps, the conversion of each value into each target through convertAssign) cost a read by
// id about as much as its statement's own start. The connection is still taken and given back
// by database/sql (Conn.Raw), which keeps the pool's accounting and drops a connection the
// driver found bad.
//
// Such texts are never prepared by the store's statement cache (a sql.Stmt holds its kept
// statement on each connection for good, and a second holder would prepare it anew each time:
// stmtConn.PrepareContext); inside a transaction they go through database/sql unprepared,
// which takes the connection's kept statement and frees it again.

// recordsOn reads b's records on a connection of e's pool taken with ctx (a wait for one ends
// with ctx's live context), on the driver connection when it is one of the store's.
func (e *Exec) recordsOn(ctx context.Context, t *table, b *builder) ([]*Record, error) {
	e.s.queries.Add(1)
	conn, err := e.db.Conn(live(ctx))
	if err != nil {
		return nil, e.s.dialect.interpret(err)
	}
	defer conn.Close()
	if recs, ok, err := e.recordsDirect(ctx, conn, t, b); ok {
		return recs, err
	}
	rows, err := conn.QueryContext(ctx, b.text(), b.args...)
	if err != nil {
		return nil, e.s.dialect.interpret(err)
	}
	return t.scanAll(e.s.dialect, rows)
}

// recordsDirect reads b's records on conn's driver connection (queryDirect); ok is false when
// conn is not one of the store's SQLite connections.
func (e *Exec) recordsDirect(ctx context.Context, conn *sql.Conn, t *table, b *builder) (recs []*Record, ok bool, err error) {
	var scanErr error // already interpreted by scanRows
	err = conn.Raw(func(dc any) error {
		var sc *stmtConn
		if sc, ok = dc.(*stmtConn); !ok {
			return nil
		}
		return sc.queryDirect(ctx, b.text(), b.args, func(rows rowSource) error {
			recs, scanErr = t.scanRows(e.s.dialect, rows)
			return scanErr
		})
	})
	switch {
	case !ok:
		return nil, false, nil
	case scanErr != nil:
		return nil, true, scanErr
	case err != nil:
		return nil, true, e.s.dialect.interpret(err)
	}
	e.s.direct.Add(1)
	return recs, true, nil
}

// queryDirect runs query with args on the kept statement of c and hands its rows to read,
// closing both after. The arguments and the row's values go through the connection's own
// slices (c.args, c.rows): a connection serves one caller at a time, the driver copies the
// arguments into the statement's bindings, and read copies out what it keeps.
func (c *stmtConn) queryDirect(ctx context.Context, query string, args []any, read func(rowSource) error) error {
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer st.Close()
	ks := st.(*keptStmt)
	if c.args, err = namedArgs(ks, args, c.args[:0]); err != nil {
		return err
	}
	rows, err := ks.QueryContext(ctx, c.args)
	clear(c.args)
	if err != nil {
		return err
	}
	c.rows.rows, c.rows.ctx, c.rows.err, c.rows.done = rows, ctx, nil, false
	c.rows.dest = append(c.rows.dest[:0], make([]driver.Value, len(rows.Columns()))...)
	err = read(&c.rows)
	clear(c.rows.dest)
	c.rows.rows, c.rows.ctx = nil, nil
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// namedArgs converts args as database/sql does for a statement without a checker of its own,
// appending them to out.
func namedArgs(s *keptStmt, args []any, out []driver.NamedValue) ([]driver.NamedValue, error) {
	for i, a := range args {
		nv := driver.NamedValue{Ordinal: i + 1, Value: a}
		err := s.CheckNamedValue(&nv)
		if errors.Is(err, driver.ErrSkip) {
			nv.Value, err = driver.DefaultParameterConverter.ConvertValue(a)
		}
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		out = append(out, nv)
	}
	return out, nil
}

// driverRows is a driver's rows as a rowSource, its values assigned to targets of the kinds
// the store scans into (sql.Scanner, *string, *int64). Once ctx has ended no further row is
// read, as database/sql's Rows end a loop (SQLite itself watches only the first step: a
// sparse scan's later rows would otherwise run on past a deadline).
type driverRows struct {
	ctx  context.Context
	rows driver.Rows
	dest []driver.Value
	err  error
	done bool // the rows ended: another Next would run the statement again (SQLite resets it)
}

func (r *driverRows) Next() bool {
	if r.err != nil || r.done {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return false
	}
	if err := r.rows.Next(r.dest); err != nil {
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
		r.done = true
		return false
	}
	return true
}

func (r *driverRows) Err() error { return r.err }

func (r *driverRows) Scan(targets ...any) error {
	if len(targets) != len(r.dest) {
		return fmt.Errorf("%d targets for %d columns", len(targets), len(r.dest))
	}
	for i, t := range targets {
		if err := assignValue(t, r.dest[i]); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

// assignValue stores v in target. A driver's value is valid until its next row: a Scanner
// copies what it keeps (sql.NullString makes a string of bytes), as do the cases below.
func assignValue(target any, v driver.Value) error {
	switch t := target.(type) {
	case sql.Scanner:
		return t.Scan(v)
	case *string:
		switch s := v.(type) {
		case string:
			*t = s
			return nil
		case []byte:
			*t = string(s)
			return nil
		}
	case *int64:
		if n, ok := v.(int64); ok {
			*t = n
			return nil
		}
	}
	return fmt.Errorf("cannot store a %T in a %T", v, target)
}
