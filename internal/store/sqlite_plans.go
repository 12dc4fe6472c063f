package store

import (
	"database/sql/driver"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// stablePlans turns on SQLite's query planner stability guarantee (SQLITE_DBCONFIG_ENABLE_QPSG)
// for a connection: a statement's plan is chosen from its text alone, never from the values
// bound to it, so a kept statement stays prepared however its parameters change.
//
// Without it SQLite marks a statement to be compiled again whenever a parameter it looked at
// while planning is bound anew (a LIMIT to another value; a LIKE pattern or a parameter
// compared with a partial index's condition after every run, as modernc clears the bindings
// after each). The job queue's fetch, kept prepared on the writer, binds the workers a queue
// has free as its LIMIT and was recompiled on nearly every poll: SQLite's parser and code
// generator ran about once a second per queue at idle, three quarters of the fetch's CPU.
// What the guarantee gives up — a plan specialised to one bound value — Kiln's statements do
// not use: its filters bind values the planner could not know in advance anyway, and the
// statements are prepared once and kept.
//
// When the handle cannot be found (another driver version) the connection plans as SQLite's
// default: correct, only slower. TestSQLiteKeptStatementsAreNotCompiledAgain fails if that
// happens.
func stablePlans(conn driver.Conn) bool {
	db := sqliteHandle(conn)
	if db == nil {
		return false
	}
	tls := libc.NewTLS()
	defer tls.Close()
	bp := tls.Alloc(16) // the call's variadic arguments: on (1) and no place for the result
	defer tls.Free(16)
	va := libc.VaList(bp, int32(1), uintptr(0))
	return sqlite3.Xsqlite3_db_config(tls, uintptr(db), sqlite3.SQLITE_DBCONFIG_ENABLE_QPSG, va) == sqlite3.SQLITE_OK
}
