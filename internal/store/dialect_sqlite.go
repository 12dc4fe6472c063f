package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/value"
)

type sqliteDialect struct{}

// Readers map the database file (a page read by id or by a list is a pointer into the page
// cache, no pread and no copy). The writer does not: the pages it reads are those it is about
// to change, and after each checkpoint it reads them from the file again, so through a
// mapping every page the writes touched became part of the process's resident set — 22 MiB
// after 30,000 creates in the benchmark, growing with the database. Through its own page
// cache (SQLite's default, 2 MiB) the writer's throughput is the same (docs/performance.md).
// modernc runs a DSN's pragmas sorted by their text, not in the DSN's order, so a second
// mmap_size would not override the first: each connection names its own, once.
const (
	readerMmap = "_pragma=mmap_size(268435456)"
	writerMmap = "_pragma=mmap_size(0)"
)

var _ dialect = sqliteDialect{}

func openSQLite(ctx context.Context, cfg Config) (*Store, error) {
	if dir := filepath.Dir(cfg.SQLitePath); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	pragmas := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=journal_mode(WAL)"
	base := "file:" + (&url.URL{Path: cfg.SQLitePath}).EscapedPath() + "?" + pragmas
	shared := new(atomic.Bool)
	writer := sql.OpenDB(stmtConnector{dsn: base + "&_txlock=immediate&" + writerMmap, drv: &sqlite.Driver{}, shared: shared})
	writer.SetMaxOpenConns(1) // SQLite has one writer; queueing here beats SQLITE_BUSY
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", cfg.SQLitePath, err)
	}
	reader := sql.OpenDB(stmtConnector{dsn: base + "&_pragma=query_only(1)&" + readerMmap, drv: &sqlite.Driver{}})
	n := cfg.MaxReaders
	if n <= 0 {
		n = 4
	}
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	watcher := sql.OpenDB(stmtConnector{dsn: base + "&_pragma=query_only(1)&" + readerMmap, drv: &sqlite.Driver{}})
	watcher.SetMaxOpenConns(1)
	st := &Store{dialect: sqliteDialect{}, writer: writer, reader: reader, watcher: watcher, stmts: newStmtCache(512)}
	st.batch = &batcher{db: writer, interpret: st.dialect.interpret, shared: shared, age: maxBatchAge}
	st.closers = []func() error{reader.Close, writer.Close, watcher.Close, st.stmts.close}
	return st, nil
}

func (sqliteDialect) name() string { return "sqlite" }

// placeholder numbers parameters (?N) so one argument can appear twice in a statement.
func (sqliteDialect) placeholder(n int) string { return "?" + strconv.Itoa(n) }
func (sqliteDialect) rebind(s string) string   { return s }

func (sqliteDialect) encode(k kind, _ int, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case value.Decimal:
		return x.Units
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	}
	if t, ok := asTime(v); ok {
		if k == kDate {
			return t.Format(value.DateLayout)
		}
		return value.FormatTime(t)
	}
	return v
}

func (sqliteDialect) scanTarget(k kind) any {
	switch k {
	case kInt, kDecimal, kBool:
		return new(sql.NullInt64)
	case kFloat:
		return new(sql.NullFloat64)
	}
	return new(sql.NullString)
}

func (sqliteDialect) decode(k kind, scale int, target any) (any, error) {
	switch t := target.(type) {
	case *sql.NullInt64:
		if !t.Valid {
			return nil, nil
		}
		switch k {
		case kDecimal:
			return value.FromUnits(t.Int64, scale), nil
		case kBool:
			return t.Int64 != 0, nil
		}
		return t.Int64, nil
	case *sql.NullFloat64:
		if !t.Valid {
			return nil, nil
		}
		return t.Float64, nil
	case *sql.NullString:
		if !t.Valid {
			return nil, nil
		}
		if k == kTime {
			return value.ParseTime(t.String)
		}
		return t.String, nil
	}
	return nil, fmt.Errorf("sqlite: unexpected scan target %T", target)
}

// refusedPrefix starts the message of a SQLite migration's refusal of a value it cannot
// convert (internal/migrate's refusal checks).
const refusedPrefix = "migration refused: "

var (
	sqliteUniqueRe  = regexp.MustCompile(`UNIQUE constraint failed: ([^()]+)`)
	sqliteNotNullRe = regexp.MustCompile(`NOT NULL constraint failed: ([^\s.]+)\.([^\s(]+)`)
)

func (sqliteDialect) interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se *sqlite.Error
	isSQLite := errors.As(err, &se)
	if t := asTimeout(err, isSQLite && se.Code()&0xff == sqlite3.SQLITE_INTERRUPT); t != nil {
		return t
	}
	if !isSQLite || se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT {
		return err
	}
	// Extended codes are not always set (RESTRICT actions report plain SQLITE_CONSTRAINT),
	// so the message decides; it is SQLite's own fixed text.
	msg := se.Error()
	if se.Code() == sqlite3.SQLITE_CONSTRAINT_TRIGGER {
		if _, why, ok := strings.Cut(msg, refusedPrefix); ok { // a migration's refusal of a value (RAISE)
			return fmt.Errorf("%w: %s", ErrInvalidValue, strings.TrimSuffix(why, fmt.Sprintf(" (%d)", se.Code())))
		}
	}
	switch {
	case strings.Contains(msg, "UNIQUE constraint failed") || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		ce := &ConstraintError{Kind: ConstraintUnique, cause: err}
		if m := sqliteUniqueRe.FindStringSubmatch(msg); m != nil {
			for _, tc := range strings.Split(m[1], ",") {
				table, col, _ := strings.Cut(strings.TrimSpace(tc), ".")
				ce.Table, ce.Columns = table, append(ce.Columns, strings.TrimSpace(col))
			}
		}
		return ce
	case strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return &ConstraintError{Kind: ConstraintForeignKey, cause: err}
	case strings.Contains(msg, "NOT NULL constraint failed"):
		ce := &ConstraintError{Kind: ConstraintNotNull, cause: err}
		if m := sqliteNotNullRe.FindStringSubmatch(msg); m != nil {
			ce.Table, ce.Columns = strings.TrimPrefix(m[1], RebuildPrefix), []string{m[2]}
		}
		return ce
	}
	return &ConstraintError{Kind: ConstraintCheck, cause: err}
}

// match uses substr/instr rather than LIKE: SQLite's LIKE ignores ASCII case and CEL's
// startsWith/endsWith/contains do not.
func (sqliteDialect) match(col string, k query.MatchKind, ph string) string {
	switch k {
	case query.Prefix:
		return "substr(" + col + ", 1, length(" + ph + ")) = " + ph
	case query.Suffix:
		return "(length(" + col + ") >= length(" + ph + ") AND substr(" + col + ", -length(" + ph + ")) = " + ph + ")"
	}
	return "instr(" + col + ", " + ph + ") > 0"
}

func (sqliteDialect) linkedIDs(join, self, other, outer, live string) string {
	return "(SELECT group_concat(" + quote(other) + ", ',' ORDER BY " + quote("position") + ") FROM " + quote(join) +
		" WHERE " + quote(self) + " = " + quote(outer) + "." + quote("id") + live + ")"
}

func (sqliteDialect) distinct(a, b string) string { return a + " IS NOT " + b }
