package store

import (
	"errors"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// A group runs its writes again by themselves only when it surely committed nothing. At its
// COMMIT only a ROLLBACK or the server's ERROR says so: a FATAL there (the session terminated
// by pg_terminate_backend, as a scale-out test did) or a lost connection may follow the commit,
// and running the writes again stored them twice.
func TestAGroupWhoseCommitMayHaveTakenEffectDoesNotRunAgain(t *testing.T) {
	t.Parallel()
	committed, err := commitOutcome(pgconn.NewCommandTag("COMMIT"), nil)
	require.True(t, committed)
	require.NoError(t, err)

	_, err = commitOutcome(pgconn.NewCommandTag("ROLLBACK"), nil)
	require.True(t, nothingCommitted(err), "rolled back")

	_, err = commitOutcome(pgconn.CommandTag{}, &pgconn.PgError{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "23505"})
	require.True(t, nothingCommitted(err), "the commit failed: a deferred constraint, say")

	terminated := &pgconn.PgError{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01"}
	committed, err = commitOutcome(pgconn.CommandTag{}, terminated)
	require.False(t, committed)
	require.False(t, nothingCommitted(err), "terminated at its commit: it may have committed")
	require.ErrorIs(t, err, terminated, "the caller hears the server's error")

	_, err = commitOutcome(pgconn.CommandTag{}, io.ErrUnexpectedEOF)
	require.False(t, nothingCommitted(err), "the connection was lost at the commit")

	require.True(t, nothingCommitted(terminated), "terminated before its COMMIT ran: nothing committed")
	require.False(t, nothingCommitted(errors.New("read: connection reset")), "lost after the batch was sent")
}
