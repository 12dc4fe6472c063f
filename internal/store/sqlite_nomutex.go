package store

import (
	"database/sql/driver"
	"reflect"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// unlockConn puts a SQLite connection in SQLite's multi-thread mode: it frees the connection's
// own mutex, as sqlite3_open_v2 with SQLITE_OPEN_NOMUTEX would have left it. modernc opens
// every connection SQLITE_OPEN_FULLMUTEX (serialized) and offers no other mode, so every API
// call — each step, and each column of each row read — locked and unlocked a recursive mutex
// emulated in Go (a tenth of a list page's time). That mutex protects nothing here: database/sql
// hands a connection to one goroutine at a time, and modernc's driver is not safe for concurrent
// use of one connection anyway (its per-connection state is used before SQLite's mutex is
// reached: see the package's documentation). SQLite's own global mutexes (memory, page cache)
// stay. sqlite3_interrupt, which modernc calls from another goroutine when a context ends, takes
// no mutex.
//
// When upgrading modernc.org/sqlite, check again that it calls into SQLite from no goroutine
// but the caller's, sqlite3_interrupt excepted (the race detector cannot see SQLite's memory,
// so no test would notice).
//
// The connection's sqlite3 handle is the unexported db field of modernc's conn; when it cannot
// be found (another driver version), the connection is left serialized: correct, only slower.
// TestSQLiteConnectionsRunWithoutTheirMutex fails if that happens.
func unlockConn(conn driver.Conn) bool {
	db := sqliteHandle(conn)
	if db == nil {
		return false
	}
	field := (*uintptr)(unsafe.Add(db, unsafe.Offsetof(sqlite3.Tsqlite3{}.Fmutex)))
	m := *field
	if m == 0 {
		return true
	}
	*field = 0
	tls := libc.NewTLS()
	sqlite3.Xsqlite3_mutex_free(tls, m)
	tls.Close()
	return true
}

// sqliteHandle is the sqlite3* of a modernc connection, or nil.
func sqliteHandle(conn driver.Conn) unsafe.Pointer {
	v := reflect.ValueOf(conn)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr || f.Uint() == 0 {
		return nil
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))
}
