package migrate_test

import (
	"context"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/store"
)

// The schema as the database reports it (SQLite pragmas, PostgreSQL's catalogs), read by SQL
// the migrations did not write: what the tests compare with what a spec needs.

type column struct {
	Type    string // the dialect's own type name: INTEGER, numeric(10,2), timestamp with time zone
	NotNull bool
	Default string // "" when none; literals without quotes or casts
}

type foreignKey struct{ Table, OnDelete string }

type index struct {
	Columns string // comma-separated, in order
	Unique  bool
}

type table struct {
	Columns     map[string]column
	ForeignKeys map[string]foreignKey // by column
	Indexes     map[string]index      // by name; primary keys and SQLite's automatic indexes left out
}

// inspect reads every table but kiln_migrations.
func inspect(t *testing.T, st *store.Store) map[string]table {
	t.Helper()
	out := map[string]table{}
	for _, name := range tableNames(t, st) {
		out[name] = table{Columns: columns(t, st, name), ForeignKeys: foreignKeys(t, st, name), Indexes: indexes(t, st, name)}
	}
	return out
}

func rowsOf(t *testing.T, st *store.Store, q string, args ...any) [][]any {
	t.Helper()
	rows, err := st.Reader().QueryRaw(context.Background(), q, args...)
	require.NoError(t, err, q)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	require.NoError(t, rows.Err())
	return out
}

func text(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func tableNames(t *testing.T, st *store.Store) []string {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if st.Dialect() == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	var out []string
	for _, r := range rowsOf(t, st, q) {
		if n := text(r[0]); n != "kiln_migrations" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

var castSuffix = regexp.MustCompile(`::[a-z ]+(\([0-9, ]+\))?$`)

// cleanDefault drops quotes, casts and parentheses: 'none'::text and 'none' are none.
func cleanDefault(s string) string {
	s = castSuffix.ReplaceAllString(strings.TrimSpace(s), "")
	s = strings.Trim(s, "()")
	return strings.Trim(s, "'")
}

func columns(t *testing.T, st *store.Store, name string) map[string]column {
	out := map[string]column{}
	if st.Dialect() == "sqlite" {
		for _, r := range rowsOf(t, st, `SELECT name, type, "notnull", dflt_value FROM pragma_table_info(?)`, name) {
			out[text(r[0])] = column{Type: text(r[1]), NotNull: text(r[2]) == "1", Default: cleanDefault(text(r[3]))}
		}
		return out
	}
	for _, r := range rowsOf(t, st, `SELECT column_name, data_type, is_nullable, column_default, numeric_precision, numeric_scale
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?`, name) {
		typ := text(r[1])
		if typ == "numeric" {
			typ = fmt.Sprintf("numeric(%s,%s)", text(r[4]), text(r[5]))
		}
		out[text(r[0])] = column{Type: typ, NotNull: text(r[2]) == "NO", Default: cleanDefault(text(r[3]))}
	}
	return out
}

func foreignKeys(t *testing.T, st *store.Store, name string) map[string]foreignKey {
	out := map[string]foreignKey{}
	if st.Dialect() == "sqlite" {
		for _, r := range rowsOf(t, st, `SELECT "from", "table", on_delete FROM pragma_foreign_key_list(?)`, name) {
			out[text(r[0])] = foreignKey{Table: text(r[1]), OnDelete: text(r[2])}
		}
		return out
	}
	actions := map[string]string{"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
	for _, r := range rowsOf(t, st, `SELECT a.attname, c.confrelid::regclass::text, c.confdeltype::text
		FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
		WHERE c.contype = 'f' AND c.conrelid = ?::regclass`, name) {
		out[text(r[0])] = foreignKey{Table: strings.Trim(text(r[1]), `"`), OnDelete: actions[text(r[2])]}
	}
	return out
}

func indexes(t *testing.T, st *store.Store, name string) map[string]index {
	out := map[string]index{}
	if st.Dialect() == "sqlite" {
		for _, r := range rowsOf(t, st, `SELECT name, "unique" FROM pragma_index_list(?) WHERE origin = 'c'`, name) {
			var cols []string
			for _, c := range rowsOf(t, st, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, text(r[0])) {
				cols = append(cols, text(c[0]))
			}
			out[text(r[0])] = index{Columns: strings.Join(cols, ","), Unique: text(r[1]) == "1"}
		}
		return out
	}
	for _, r := range rowsOf(t, st, `SELECT i.relname, ix.indisunique::text,
		  (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n)
		   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum)
		FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid
		WHERE ix.indrelid = ?::regclass AND NOT ix.indisprimary`, name) {
		out[text(r[0])] = index{Columns: text(r[2]), Unique: text(r[1]) == "true"}
	}
	return out
}

// physical is the type the test expects a neutral column type to have in the dialect.
func physical(dialect, neutral string) string {
	var p, s int
	if _, err := fmt.Sscanf(neutral, "decimal(%d,%d)", &p, &s); err == nil {
		if dialect == "sqlite" {
			return "INTEGER" // minor units
		}
		return fmt.Sprintf("numeric(%d,%d)", p, s)
	}
	if dialect == "sqlite" {
		return map[string]string{"serial": "INTEGER", "uuid": "TEXT", "text": "TEXT", "integer": "INTEGER", "real": "REAL", "boolean": "INTEGER",
			"timestamp": "TEXT", "date": "TEXT", "json": "TEXT"}[neutral]
	}
	return map[string]string{"serial": "bigint", "uuid": "uuid", "text": "text", "integer": "bigint", "real": "double precision", "boolean": "boolean",
		"timestamp": "timestamp with time zone", "date": "date", "json": "jsonb"}[neutral]
}

// expected is the physical schema a neutral schema asks for.
func expected(dialect string, s migrate.Schema) map[string]table {
	out := map[string]table{}
	for _, tb := range s.Tables {
		x := table{Columns: map[string]column{}, ForeignKeys: map[string]foreignKey{}, Indexes: map[string]index{}}
		for _, c := range tb.Columns {
			col := column{Type: physical(dialect, c.Type), NotNull: c.NotNull || (len(tb.PrimaryKey) == 1 && tb.PrimaryKey[0] == c.Name)}
			if c.Default != nil {
				col.Default = defaultText(dialect, c.Type, *c.Default)
			}
			x.Columns[c.Name] = col
			if c.References != "" {
				x.ForeignKeys[c.Name] = foreignKey{Table: c.References, OnDelete: c.OnDelete}
			}
		}
		for _, ix := range tb.Indexes {
			if ix.Dialect != "" && ix.Dialect != dialect {
				continue // another dialect's index (migrate.Index.Dialect)
			}
			x.Indexes[ix.Name] = index{Columns: strings.Join(ix.Columns, ","), Unique: ix.Unique}
		}
		out[tb.Name] = x
	}
	return out
}

// defaultText is how the database reports a default: SQLite keeps booleans as 0/1 and
// decimals as minor units.
func defaultText(dialect, typ, v string) string {
	var p, s int
	_, err := fmt.Sscanf(typ, "decimal(%d,%d)", &p, &s)
	switch {
	case dialect == "sqlite" && typ == "boolean":
		return map[string]string{"true": "1", "false": "0"}[v]
	case err == nil && dialect == "sqlite":
		r, _ := new(big.Rat).SetString(v)
		return new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil))).FloatString(0)
	case err == nil:
		r, _ := new(big.Rat).SetString(v)
		return r.FloatString(s)
	}
	return v
}

// decimalAt reads a decimal column of one row as exact text at scale.
func decimalAt(t *testing.T, st *store.Store, tableName, col, id string, scale int) string {
	t.Helper()
	sel := `CAST("` + col + `" AS TEXT)`
	r := rowsOf(t, st, `SELECT `+sel+` FROM "`+tableName+`" WHERE id = ?`, id)
	require.Len(t, r, 1)
	v := text(r[0][0])
	if v == "" {
		return "null"
	}
	rat, ok := new(big.Rat).SetString(v)
	require.True(t, ok, v)
	if st.Dialect() == "sqlite" { // minor units
		rat.Quo(rat, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	}
	return rat.FloatString(scale)
}
