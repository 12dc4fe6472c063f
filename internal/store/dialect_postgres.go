package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/value"
)

type postgresDialect struct{}

var _ dialect = postgresDialect{}

func openPostgres(ctx context.Context, cfg Config) (*Store, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, errors.New("parse database URL: not a valid postgres URL") // the URL may hold a password
	}
	if pcfg.ConnConfig.RuntimeParams["application_name"] == "" {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "kiln" // names Kiln's sessions in pg_stat_activity
	}
	if cfg.MaxReaders > 0 {
		pcfg.MaxConns = int32(cfg.MaxReaders)
	} else if pcfg.MaxConns < 16 {
		pcfg.MaxConns = 16
	}
	// Every connection's transactions begin lazily (pgbegin.go): BEGIN travels with the first statement.
	pcfg.ConnConfig.AfterNetConnect = func(_ context.Context, _ *pgconn.Config, c net.Conn) (net.Conn, error) {
		return newBeginConn(c), nil
	}
	pcfg.ConnConfig.BuildContextWatcherHandler = newAloneWatch // a statement alone is cancelled on the server
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect postgres at %s:%d: %w", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, err)
	}
	st := &Store{dialect: postgresDialect{}, pool: pool}
	st.writes = newPGGroups(groupsAtOnce, func() { st.grouped.Add(1) })
	st.reads = newReadGroups(func() { st.readsGrouped.Add(1) })
	db := sql.OpenDB(beginConnector{inner: stdlib.GetPoolConnector(pool)})
	db.SetMaxIdleConns(0) // pgxpool keeps the idle connections (as stdlib.OpenDBFromPool does)
	st.writer, st.reader = db, db
	st.closers = []func() error{func() error { pool.Close(); return nil }, db.Close}
	return st, nil
}

func (postgresDialect) name() string             { return "postgres" }
func (postgresDialect) placeholder(n int) string { return "$" + strconv.Itoa(n) }
func (postgresDialect) rebind(s string) string   { return rebindDollar(s) }

func (postgresDialect) encode(k kind, _ int, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case value.Decimal:
		return x.String()
	}
	if t, ok := asTime(v); ok {
		if k == kDate {
			return t.Format(value.DateLayout)
		}
		return t.UTC()
	}
	return v
}

func (postgresDialect) scanTarget(k kind) any {
	switch k {
	case kInt:
		return new(sql.NullInt64)
	case kFloat:
		return new(sql.NullFloat64)
	case kBool:
		return new(sql.NullBool)
	case kTime, kDate:
		return new(sql.NullTime)
	}
	return new(sql.NullString)
}

// poolTarget is scanTarget for a read straight on pgx's pool (firstOnPool): pgx's own types,
// which it scans into directly. A sql.Scanner made pgx plan each column's scan through its
// type table and hand the value over as an interface (an allocation per column).
func poolTarget(k kind) any {
	switch k {
	case kInt:
		return new(pgtype.Int8)
	case kFloat:
		return new(pgtype.Float8)
	case kBool:
		return new(pgtype.Bool)
	case kTime:
		return new(pgtype.Timestamptz)
	case kDate:
		return new(pgtype.Date)
	case kJSON:
		return new(sql.NullString) // jsonb's text, as database/sql's reads give it
	}
	return new(pgtype.Text) // text, uuid and numeric, in PostgreSQL's text form
}

func (postgresDialect) decode(k kind, scale int, target any) (any, error) {
	if v, ok, err := decodePool(k, scale, target); ok {
		return v, err
	}
	switch t := target.(type) {
	case *sql.NullInt64:
		return nullable(t.Valid, t.Int64), nil
	case *sql.NullFloat64:
		return nullable(t.Valid, t.Float64), nil
	case *sql.NullBool:
		return nullable(t.Valid, t.Bool), nil
	case *sql.NullTime:
		if !t.Valid {
			return nil, nil
		}
		if k == kDate {
			return t.Time.Format(value.DateLayout), nil
		}
		return t.Time.UTC(), nil
	case *sql.NullString:
		if !t.Valid {
			return nil, nil
		}
		if k == kDecimal {
			d, _, err := value.Rescale(t.String, scale)
			return d, err
		}
		return t.String, nil
	}
	return nil, fmt.Errorf("postgres: unexpected scan target %T", target)
}

// errInfinite refuses PostgreSQL's infinity and -infinity (written outside Kiln), as
// database/sql's time.Time targets do: pgx reads them as a zero time, which would be served,
// and written back, as the year 1.
var errInfinite = errors.New("postgres: an infinite date or time has no value in Kiln")

// decodePool is decode for poolTarget's pgx types; ok is false for any other target.
func decodePool(k kind, scale int, target any) (v any, ok bool, err error) {
	switch t := target.(type) {
	case *pgtype.Int8:
		return nullable(t.Valid, t.Int64), true, nil
	case *pgtype.Float8:
		return nullable(t.Valid, t.Float64), true, nil
	case *pgtype.Bool:
		return nullable(t.Valid, t.Bool), true, nil
	case *pgtype.Timestamptz:
		if !t.Valid {
			return nil, true, nil
		}
		if t.InfinityModifier != pgtype.Finite {
			return nil, true, errInfinite
		}
		return t.Time.UTC(), true, nil
	case *pgtype.Date:
		if !t.Valid {
			return nil, true, nil
		}
		if t.InfinityModifier != pgtype.Finite {
			return nil, true, errInfinite
		}
		return t.Time.Format(value.DateLayout), true, nil
	case *pgtype.Text:
		if !t.Valid {
			return nil, true, nil
		}
		if k == kDecimal {
			d, _, err := value.Rescale(t.String, scale)
			return d, true, err
		}
		return t.String, true, nil
	}
	return nil, false, nil
}

func nullable[T any](valid bool, v T) any {
	if !valid {
		return nil
	}
	return v
}

var pgKeyRe = regexp.MustCompile(`^Key \(([^)]+)\)=`)

func (postgresDialect) interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pgconn.PgError
	isPg := errors.As(err, &pe)
	if t := asTimeout(err, isPg && pe.Code == "57014"); t != nil {
		return t // before unavailable: a cancelled statement is this request's deadline, not an outage
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !isPg {
		return err
	}
	ce := &ConstraintError{Table: pe.TableName, cause: err}
	switch pe.Code {
	case "23505":
		ce.Kind = ConstraintUnique
		if m := pgKeyRe.FindStringSubmatch(pe.Detail); m != nil {
			for _, c := range strings.Split(m[1], ",") {
				ce.Columns = append(ce.Columns, strings.Trim(strings.TrimSpace(c), `"`))
			}
		}
	case "23503":
		ce.Kind = ConstraintForeignKey
	case "23502":
		ce.Kind, ce.Columns = ConstraintNotNull, []string{pe.ColumnName}
	case "23514":
		ce.Kind = ConstraintCheck
	default:
		if strings.HasPrefix(pe.Code, "22") {
			return fmt.Errorf("%w: %w", ErrInvalidValue, err)
		}
		return err
	}
	return ce
}

func (postgresDialect) match(col string, k query.MatchKind, ph string) string {
	switch k {
	case query.Prefix:
		return "starts_with(" + col + ", " + ph + ")"
	case query.Suffix:
		return "right(" + col + ", length(" + ph + ")) = " + ph
	}
	return "strpos(" + col + ", " + ph + ") > 0"
}

func (postgresDialect) linkedIDs(join, self, other, outer, live string) string {
	return "(SELECT string_agg(" + quote(other) + "::text, ',' ORDER BY " + quote("position") + ") FROM " + quote(join) +
		" WHERE " + quote(self) + " = " + quote(outer) + "." + quote("id") + live + ")"
}

func (postgresDialect) distinct(a, b string) string { return a + " IS DISTINCT FROM " + b }
