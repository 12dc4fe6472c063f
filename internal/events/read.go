package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kiln-dev/kiln/internal/store"
)

// Pos is a place in the order live updates deliver events in: the id order, on both dialects.
// For one record it is the order its changes committed in, since a write draws its event's id
// after it took the record's row (on PostgreSQL, with the row's lock, which the next write of
// the record waits for until this one commits). On SQLite it is also the commit order of all
// events (one writer). On PostgreSQL an id is drawn before its transaction commits, so a
// reader must not pass an id whose transaction may still commit: it reads only up to the safe
// id a Horizon keeps (horizon.go).
type Pos struct {
	ID int64
}

// Before reports whether p comes before q.
func (p Pos) Before(q Pos) bool { return p.ID < q.ID }

// Pos is the event's position.
func (ev *Event) Pos() Pos { return Pos{ID: ev.ID} }

const (
	columns = "id, resource, operation, action, record_id, old_values, new_values, principal, created_at"
	readSQL = "SELECT " + columns + " FROM kiln_events WHERE id > ? AND id <= ? AND (? = '' OR resource = ?) ORDER BY id LIMIT ?"
	lastSQL = "SELECT COALESCE(MAX(id), 0) FROM kiln_events"
)

// Read returns up to limit events (of resource; "" for all) after pos and up to upTo, in id
// order. On PostgreSQL upTo must be safe (Horizon.Safe) or an event delivered before.
func Read(ctx context.Context, ex *store.Exec, after Pos, upTo int64, resource string, limit int) ([]*Event, error) {
	rows, err := ex.QueryRaw(ctx, readSQL, after.ID, upTo, resource, resource, limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return scanAll(rows)
}

// Last is the id of the last event committed now (0 for none).
func Last(ctx context.Context, ex *store.Exec) (int64, error) {
	var id int64
	if err := scanOne(ctx, ex, lastSQL, nil, &id); err != nil {
		return 0, fmt.Errorf("events head: %w", err)
	}
	return id, nil
}

// ErrPastLast is PosOf's answer for an id past every event committed: a client of a database
// since reset or restored, which resumes from now.
var ErrPastLast = errors.New("events: no event with that id or a later one was committed")

// PosOf is the position to resume after the event with id (Last-Event-ID). An event no longer
// kept (swept) resumes at the oldest kept event after it.
func PosOf(ctx context.Context, ex *store.Exec, id int64) (Pos, error) {
	last, err := Last(ctx, ex)
	if err != nil {
		return Pos{}, err
	}
	if id > last {
		return Pos{}, ErrPastLast
	}
	return Pos{ID: id}, nil
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
	rows, err := ex.QueryRaw(ctx, "SELECT id FROM kiln_events WHERE id > ? AND resource = ? ORDER BY id LIMIT ?",
		after.ID, resource, limit)
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
