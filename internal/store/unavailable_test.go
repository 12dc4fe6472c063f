package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

func TestOutagesAreUnavailable(t *testing.T) {
	t.Parallel()
	pg := postgresDialect{}
	for _, code := range []string{"57P01", "57P02", "57P03", "53300", "08006", "08001", "40001", "40P01"} {
		require.ErrorIs(t, pg.interpret(&pgconn.PgError{Code: code}), ErrUnavailable, code)
	}
	for _, err := range []error{io.ErrUnexpectedEOF, fmt.Errorf("read: %w", io.EOF), &pgconn.ConnectError{}} {
		require.ErrorIs(t, pg.interpret(err), ErrUnavailable, "%v", err)
	}
	for _, code := range []string{"23505", "22P02", "42P01", "XX000"} {
		require.NotErrorIs(t, pg.interpret(&pgconn.PgError{Code: code}), ErrUnavailable, code)
	}
	require.NotErrorIs(t, pg.interpret(context.DeadlineExceeded), ErrUnavailable, "a request that ran out of time is not an outage")
}

func openSQLiteForTest(t *testing.T) *Store {
	t.Helper()
	s, err := spec.Parse("kiln.yaml", []byte("resources:\n  notes:\n    fields:\n      title: string\n"), spec.ParseOpts{})
	require.NoError(t, err)
	st, err := Open(context.Background(), Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// A transaction PostgreSQL aborted for a serialization failure or deadlock runs again from the
// start, a bounded number of times; then the error is ErrUnavailable.
func TestInTxRetriesConcurrencyAborts(t *testing.T) {
	t.Parallel()
	st := openSQLiteForTest(t)
	abort := fmt.Errorf("%w: %w", ErrUnavailable, &pgconn.PgError{Code: "40P01"})
	runs := 0
	err := st.InTx(context.Background(), func(*Exec) error {
		runs++
		if runs == 1 {
			return abort
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, runs)

	runs = 0
	err = st.InTx(context.Background(), func(*Exec) error { runs++; return abort })
	require.ErrorIs(t, err, ErrUnavailable)
	require.Equal(t, maxTxAttempts, runs)

	runs = 0
	err = st.InTx(context.Background(), func(*Exec) error { runs++; return errors.New("a bug") })
	require.Error(t, err)
	require.Equal(t, 1, runs, "other errors are not retried")
}
