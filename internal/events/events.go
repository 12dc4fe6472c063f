// Package events is Kiln's outbox: every committed create, update, delete and action
// appends one row to kiln_events in the write's own transaction, so an event exists exactly
// when its write committed. Triggers, live updates and webhooks read from here; nothing is
// published from memory. Ids only grow, so a reader resumes after the last id it saw.
package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/kiln-dev/kiln/internal/store"
)

// Operations an event records.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
	OpAction = "action"
)

// Event is one committed change of one record.
type Event struct {
	ID        int64           `json:"id"`
	Resource  string          `json:"resource"`
	Operation string          `json:"operation"`
	Action    string          `json:"action,omitempty"`
	RecordID  string          `json:"record_id"`
	Old       json.RawMessage `json:"old,omitempty"` // the record before; none on create
	New       json.RawMessage `json:"new,omitempty"` // the record after; none on delete
	Principal string          `json:"principal,omitempty"`
	At        time.Time       `json:"at"`
}

// Channel is the PostgreSQL NOTIFY channel a committed event wakes the live-update pollers
// of every instance on.
const Channel = "kiln_events"

const (
	insertSQL = "INSERT INTO kiln_events (resource, operation, action, record_id, old_values, new_values, principal, created_at, txid) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) RETURNING id"
	// On PostgreSQL the row also keeps its transaction's id. The writer notifies Channel after
	// the commit (store.Notifier), not in the transaction.
	insertPG = "INSERT INTO kiln_events (resource, operation, action, record_id, old_values, new_values, principal, created_at, txid) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, pg_current_xact_id()::text::bigint) RETURNING id"
)

// Append writes ev inside tx and sets its ID.
func Append(ctx context.Context, tx *store.Exec, ev *Event) error {
	_, err := AppendReading(ctx, tx, ev, "")
	return err
}

// AppendReading is Append that also returns the value of also — a scalar SQL expression,
// fixed text such as a subquery, evaluated by the same statement — so a reader the write
// needs anyway costs no round trip of its own. NULL (and an empty also) read as "".
func AppendReading(ctx context.Context, tx *store.Exec, ev *Event, also string) (string, error) {
	q := insertSQL
	if tx.Dialect() == "postgres" {
		q = insertPG
	}
	q, extra, dst := reading(q, also, ev)
	rows, err := tx.QueryRaw(ctx, q, ev.args()...)
	if err != nil {
		return "", fmt.Errorf("append event: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return "", fmt.Errorf("append event: no id returned: %w", rows.Err())
	}
	if err := rows.Scan(dst...); err != nil {
		return "", fmt.Errorf("append event: %w", err)
	}
	return extra.String, rows.Close()
}

// args are ev's values for the insert statements' placeholders, in their order.
func (ev *Event) args() []any {
	return []any{ev.Resource, ev.Operation, nullable(ev.Action), ev.RecordID, nullJSON(ev.Old), nullJSON(ev.New),
		nullable(ev.Principal), ev.At.UnixMicro()}
}

// reading adds also to the insert q's RETURNING list and gives the scan targets: ev's id and,
// with also, extra.
func reading(q, also string, ev *Event) (string, *sql.NullString, []any) {
	extra := new(sql.NullString)
	if also == "" {
		return q, extra, []any{&ev.ID}
	}
	return readingText(q, also), extra, []any{&ev.ID, extra}
}

// readingTexts keeps the statements reading builds, by insert and reader: a process uses a few
// (one reader, the webhook digest, per dialect), and every write would otherwise build its
// text anew (600 bytes on each write).
var readingTexts sync.Map // readingKey → string

type readingKey struct{ q, also string }

func readingText(q, also string) string {
	k := readingKey{q, also}
	if t, ok := readingTexts.Load(k); ok {
		return t.(string)
	}
	t := q + ", " + also
	readingTexts.Store(k, t)
	return t
}

// insertAfterPG is insertPG reading from the record's insert or update (store.InsertScanning,
// UpdateScanning): the record is written, and its transaction has an id, before the event's
// id is drawn, as Append requires. The parameters are typed: in a SELECT list PostgreSQL would
// take them for text.
const insertAfterPG = "INSERT INTO kiln_events (resource, operation, action, record_id, old_values, new_values, principal, created_at, txid) " +
	"SELECT ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::bigint, pg_current_xact_id()::text::bigint FROM kiln_row RETURNING id"

// AppendInserting is AppendReading for a create whose record is not written yet: the record
// (rec of resource) and its event are written by one statement (store.InsertScanning), one
// round trip instead of two. Only where tx.CanInsertScanning(); an error is the insert's, as
// store.Insert gives it, or the event's.
func AppendInserting(ctx context.Context, tx *store.Exec, resource string, rec *store.Record, ev *Event, also string) (string, error) {
	q, extra, dst := reading(insertAfterPG, also, ev)
	if err := tx.InsertScanning(ctx, resource, rec, store.Fold{Then: q, Args: ev.args(), Dest: dst}); err != nil {
		return "", err
	}
	return extra.String, nil
}

// AppendLast appends ev as the transaction's last statement, written by its record's own
// statement: write runs the record's insert or update with the fold it is given
// (store.Exec.InsertScanning, UpdateScanning; store.Fold.Last). The write is made only where
// the scalar SQL expression value (fixed text; NULL reads as "") is still want: otherwise
// nothing is written and the error is store.ErrUnwritten. A write whose transaction ran
// nothing before commits with this one statement.
func AppendLast(ev *Event, value, want string, write func(store.Fold) error) error {
	f := store.Fold{Then: insertAfterPG, Args: ev.args(), Dest: []any{&ev.ID}, Last: true}
	if value != "" {
		f.Guard, f.GuardArgs = "COALESCE("+value+", '') = ?", []any{want}
	}
	return write(f)
}

// insertBlindPG is insertAfterPG for a blind update (store.UpdateBlind): the records before
// and after are kiln_row's kiln_old_values and kiln_new_values, rendered by PostgreSQL.
const insertBlindPG = "INSERT INTO kiln_events (resource, operation, action, record_id, old_values, new_values, principal, created_at, txid) " +
	"SELECT ?::text, ?::text, ?::text, ?::text, kiln_row.kiln_old_values, kiln_row.kiln_new_values, ?::text, ?::bigint, " +
	"pg_current_xact_id()::text::bigint FROM kiln_row RETURNING id"

// AppendBlind is AppendLast for a blind update (store.Exec.UpdateBlind), whose statement
// renders ev's records itself: ev.Old and ev.New are not written.
func AppendBlind(ev *Event, value, want string, write func(store.Fold) error) error {
	f := store.Fold{Then: insertBlindPG, Args: []any{ev.Resource, ev.Operation, nullable(ev.Action), ev.RecordID,
		nullable(ev.Principal), ev.At.UnixMicro()}, Dest: []any{&ev.ID}, Last: true}
	if value != "" {
		f.Guard, f.GuardArgs = "COALESCE("+value+", '') = ?", []any{want}
	}
	return write(f)
}

// ListOpts select events.
type ListOpts struct {
	After    int64  // only events with a greater id
	Resource string // "" for every resource
	Limit    int    // default and at most 1000
}

// List reads events in id order.
func List(ctx context.Context, ex *store.Exec, o ListOpts) ([]*Event, error) {
	if o.Limit <= 0 || o.Limit > 1000 {
		o.Limit = 1000
	}
	rows, err := ex.QueryRaw(ctx, readSQL, o.After, Unbounded, o.Resource, o.Resource, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return scanAll(rows)
}

// scanAll reads every row of rows and closes it.
func scanAll(rows *sql.Rows) ([]*Event, error) {
	defer rows.Close()
	var out []*Event
	for rows.Next() {
		ev, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

func scan(rows *sql.Rows) (*Event, error) {
	var ev Event
	var action, oldV, newV, principal sql.NullString
	var at int64
	if err := rows.Scan(&ev.ID, &ev.Resource, &ev.Operation, &action, &ev.RecordID, &oldV, &newV, &principal, &at); err != nil {
		return nil, fmt.Errorf("scan event: %w", err)
	}
	ev.Action, ev.Principal, ev.At = action.String, principal.String, time.UnixMicro(at).UTC()
	if oldV.Valid {
		ev.Old = json.RawMessage(oldV.String)
	}
	if newV.Valid {
		ev.New = json.RawMessage(newV.String)
	}
	return &ev, nil
}

// Sweep deletes events older than before and reports how many. Ids are never reused
// (AUTOINCREMENT on SQLite, an identity on PostgreSQL), so a reader's position stays valid.
func Sweep(ctx context.Context, st *store.Store, before time.Time) (int64, error) {
	q := sweepSQL
	if st.Dialect() == "postgres" {
		q = sweepPG
	}
	var n int64
	err := st.InTx(ctx, func(tx *store.Exec) error {
		var err error
		n, err = tx.ExecRawCount(ctx, q, before.UnixMicro())
		return err
	})
	return n, err
}

const (
	// On SQLite kiln_events has no index but its id (migrate: writes pay for every index):
	// one writer at a time draws ids and created_at in the same order, so the old events are
	// the ones before the first new one, found by reading exactly the rows swept. Every event
	// is old when none is new. Should the clock step back, an old event written after a new
	// one stays until a later sweep: an event is kept longer, never deleted early.
	sweepSQL = "DELETE FROM kiln_events WHERE id < COALESCE((SELECT id FROM kiln_events WHERE created_at >= ? ORDER BY id LIMIT 1), " +
		"(SELECT MAX(id) FROM kiln_events) + 1)"
	sweepPG = "DELETE FROM kiln_events WHERE created_at < ?"
)

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullJSON is b as a text argument, NULL for none. The string shares b's bytes instead of
// copying them: an event's records are never changed once encoded, and the drivers copy an
// argument while the statement runs.
func nullJSON(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
