package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// unavailable reports whether a PostgreSQL error means the database cannot serve now, as
// opposed to a statement it refused.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return unavailableCode(pe.Code)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne) && !ne.Timeout():
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	return pgconn.SafeToRetry(err) // failed before anything reached the server: "conn closed" and kin
}

// unavailableCode is true for SQLSTATEs of a server that is going away, starting, full, or
// that aborted the transaction for a concurrency reason a later try may not meet.
func unavailableCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
		"53300",          // too_many_connections
		"40001", "40P01": // serialization_failure, deadlock_detected (after InTx's retries)
		return true
	}
	return strings.HasPrefix(code, "08") // connection_exception
}

// retryable reports whether a transaction failed for a concurrency reason (serialization
// failure, deadlock) that running it again from the start may not meet.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}
