package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kiln-dev/kiln/internal/store"
)

// Pos is a place in the order live updates deliver events in: by (Tx, ID). On SQLite Tx is
// always 0 and the order is the id order, which is also the commit order (one writer). On
// PostgreSQL an id is drawn before its transaction commits, so id order is not commit order
// and a reader going by ids alone could pass an id whose transaction is still open and skip
// it for ever. Read therefore orders by the writing transaction's id first and returns only
// events of transactions older than the oldest one still running: those are all committed
// (or rolled back) and every transaction that can still write has a greater id, so nothing
// can appear before a position once it was read past.
type Pos struct {
	Tx int64
	ID int64
}

// Before reports whether p comes before q.
func (p Pos) Before(q Pos) bool {
	return p.Tx < q.Tx || (p.Tx == q.Tx && p.ID < q.ID)
}

// Pos is the event's position.
func (ev *Event) Pos() Pos { return Pos{Tx: ev.Tx, ID: ev.ID} }

const (
	columns = "id, resource, operation, action, record_id, old_values, new_values, principal, created_at, txid"
	readSQL = "SELECT " + columns + " FROM kiln_events WHERE id > ? AND (? = '' OR resource = ?) ORDER BY id LIMIT ?"
	// horizon is the oldest transaction still running (all older ones have ended).
	horizon = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
	readPG  = "SELECT " + columns + " FROM kiln_events WHERE txid < " + horizon +
		" AND (txid, id) > (?, ?) AND (? = '' OR resource = ?) ORDER BY txid, id LIMIT ?"
	headSQL = "SELECT 0, COALESCE(MAX(id), 0) FROM kiln_events"
	headPG  = "SELECT COALESCE(MAX(txid), " + horizon + " - 1), COALESCE(MAX(id), 0) FROM kiln_events WHERE txid = " +
		"(SELECT MAX(txid) FROM kiln_events WHERE txid < " + horizon + ")"
)

// Read returns up to limit events (of resource; "" for all) after pos in delivery order (see
// Pos); on PostgreSQL only those whose transaction is older than every running one.
func Read(ctx context.Context, ex *store.Exec, after Pos, resource string, limit int) ([]*Event, error) {
	var rows *sql.Rows
	var err error
	if ex.Dialect() == "postgres" {
		rows, err = ex.QueryRaw(ctx, readPG, after.Tx, after.ID, resource, resource, limit)
	} else {
		rows, err = ex.QueryRaw(ctx, readSQL, after.ID, resource, resource, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return scanAll(rows)
}

// Head is the position of the last event Read can return now: a stream that starts there
// gets what is written from then on.
func Head(ctx context.Context, ex *store.Exec) (Pos, error) {
	q := headSQL
	if ex.Dialect() == "postgres" {
		q = headPG
	}
	var p Pos
	if err := scanOne(ctx, ex, q, nil, &p.Tx, &p.ID); err != nil {
		return Pos{}, fmt.Errorf("events head: %w", err)
	}
	if p.ID == 0 && ex.Dialect() == "postgres" {
		p.ID = 1<<63 - 1 // no event yet: everything from the horizon on
	}
	return p, nil
}

// PosOf is the position of the event with id, to resume after (Last-Event-ID). An event no
// longer kept (swept) resumes before the oldest kept event with a greater id; with none, at
// the head — as does an id past every event written (a client of a database since reset or
// restored), which on SQLite skipped the events up to it.
func PosOf(ctx context.Context, ex *store.Exec, id int64) (Pos, error) {
	if ex.Dialect() != "postgres" {
		head, err := Head(ctx, ex)
		if err != nil || id > head.ID {
			return head, err
		}
		return Pos{ID: id}, nil
	}
	var tx int64
	err := scanOne(ctx, ex, "SELECT txid FROM kiln_events WHERE id = ?", []any{id}, &tx)
	if err == nil {
		return Pos{Tx: tx, ID: id}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Pos{}, fmt.Errorf("event position: %w", err)
	}
	err = scanOne(ctx, ex, "SELECT txid FROM kiln_events WHERE id > ? ORDER BY id LIMIT 1", []any{id}, &tx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Head(ctx, ex)
	case err != nil:
		return Pos{}, fmt.Errorf("event position: %w", err)
	}
	return Pos{Tx: tx - 1, ID: 1<<63 - 1}, nil
}

func scanOne(ctx context.Context, ex *store.Exec, q string, args []any, dest ...any) error {
	rows, err := ex.QueryRaw(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// Committed lists the ids of resource's events after pos that are committed now, whatever
// transactions are still open (at most limit): a stream that starts "now" skips them even
// when the poller has not read them yet.
func Committed(ctx context.Context, ex *store.Exec, after Pos, resource string, limit int) (map[int64]bool, error) {
	rows, err := ex.QueryRaw(ctx, "SELECT id FROM kiln_events WHERE (txid, id) > (?, ?) AND resource = ? LIMIT ?",
		after.Tx, after.ID, resource, limit)
	if err != nil {
		return nil, fmt.Errorf("committed events: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("committed events: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}
