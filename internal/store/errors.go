package store

import (
	"context"
	"errors"
	"fmt"
)

// Sentinels for conditions callers handle. Dialects map driver errors onto these.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrStale    = errors.New("stale version")
	// ErrUnavailable means the database cannot serve right now (connection refused or lost,
	// shutting down, starting up, too many connections, a serialization failure or deadlock
	// that outlived InTx's retries). The statement did not take effect, or — when the
	// connection died during COMMIT — its outcome is unknown; Kiln never retries it itself.
	ErrUnavailable = errors.New("database unavailable")
	// ErrTimeout means a statement ran out of its deadline and was cancelled.
	ErrTimeout = errors.New("query deadline exceeded")
)

// ConstraintKind says which constraint a write broke.
type ConstraintKind string

// Constraint kinds.
const (
	ConstraintUnique     ConstraintKind = "unique"
	ConstraintForeignKey ConstraintKind = "foreign_key"
	ConstraintNotNull    ConstraintKind = "not_null"
	ConstraintCheck      ConstraintKind = "check"
)

// ConstraintError is a write rejected by a database constraint. Table and Columns are
// filled when the driver says which; a unique clash of a record's write (through InTx) names
// the columns of every unique index the record clashes with, in the spec's order, on every
// dialect (unique_clash.go). Is(ErrConflict) holds.
type ConstraintError struct {
	Kind    ConstraintKind
	Table   string
	Columns []string
	cause   error
	row     *clashRow // the record whose write clashed, until InTx has explained the clash
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("%s constraint on %s%v", e.Kind, e.Table, e.Columns)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *ConstraintError) Is(target error) bool { return target == ErrConflict }

// Unwrap exposes the driver error for logs.
func (e *ConstraintError) Unwrap() error { return e.cause }

// ErrInvalidValue means the database refused a value's form (a data exception); callers
// validate first, so this is a safety net that still maps to a client error.
var ErrInvalidValue = errors.New("invalid value")

// asTimeout reports err as ErrTimeout when a deadline cancelled the statement (the context's
// own error, SQLite's SQLITE_INTERRUPT, PostgreSQL's query_canceled); nil otherwise.
func asTimeout(err error, interrupted bool) error {
	if errors.Is(err, context.DeadlineExceeded) || interrupted {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return nil
}
