package migrate_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

const p3 = "0192f0a0-0000-7000-8000-0000000000a3"

// A number or a string becoming a decimal keeps its value exactly as PostgreSQL's cast does:
// the number's 15 significant digits (2.675, not 2.67499...) or the text's digits, rounded
// half away from zero to the scale; SQLite's minor units are scaled, not truncated.
func TestMigrationsConvertToDecimalExactly(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := specWith("      weight: number\n      label: string\n")
		v2 := specWith("      weight: {type: decimal, precision: 12, scale: 2}\n      label: {type: decimal, precision: 12, scale: 2}\n")
		w := newWalker(t, dialect, v1)
		w.insertProduct(p1, ", weight, label", 2.675, " 2.675 ")
		w.insertProduct(p2, ", weight, label", -2.675, "-12.345")
		w.insertProduct(p3, ", weight, label", 1234.5, "+.5")
		w.up(v2, true)
		for id, want := range map[string][2]string{p1: {"2.68", "2.68"}, p2: {"-2.68", "-12.35"}, p3: {"1234.50", "0.50"}} {
			require.Equal(t, want[0], decimalAt(t, w.st, "products", "weight", id, 2), id)
			require.Equal(t, want[1], decimalAt(t, w.st, "products", "label", id, 2), id)
		}
		w.down() // a decimal as text has its scale's digits, as PostgreSQL's numeric::text
		require.Equal(t, [][]any{{2.68, "2.68"}, {-2.68, "-12.35"}, {1234.5, "0.50"}},
			rowsOf(t, w.st, `SELECT weight, label FROM products ORDER BY id`))
	})
}

// Values keep their meaning across the other type changes, as PostgreSQL's casts give them:
// text to integer or boolean by PostgreSQL's input rules, a number to an integer by rint
// (half to even), a boolean to "true"/"false", a date to its midnight UTC and a datetime to
// its UTC date, each in the form Kiln stores (on PostgreSQL whatever the session's TimeZone:
// here 14 hours ahead of UTC).
func TestMigrationsConvertLikePostgres(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := specWith("      qty: string\n      size: number\n      flag: boolean\n      yes: string\n      day: date\n      at: datetime\n")
		v2 := specWith("      qty: integer\n      size: integer\n      flag: string\n      yes: boolean\n      day: datetime\n      at: date\n")
		b := setup(t, dialect)
		if dialect == "postgres" {
			b.url += "&timezone=Pacific/Kiritimati"
		}
		w := newWalkerOn(t, b, v1)
		cols := ", qty, size, flag, yes, day, at"
		w.insertProduct(p1, cols, " 42 ", 2.7, true, " YES ", "2026-03-04", "2026-01-01T10:00:00.000000Z")
		w.insertProduct(p2, cols, "-7", 2.5, false, "off", "2026-12-31", "2026-01-01T23:59:59.999999Z")
		w.insertProduct(p3, cols, "+0005", -3.5, nil, "t", nil, nil)
		w.up(v2, true)
		at := `CAST("at" AS TEXT)`
		day := `"day"`
		if dialect == "postgres" {
			day = `to_char("day" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
		}
		require.Equal(t, [][]any{
			{int64(42), int64(3), "true", "true", "2026-03-04T00:00:00.000000Z", "2026-01-01"},
			{int64(-7), int64(2), "false", "false", "2026-12-31T00:00:00.000000Z", "2026-01-01"},
			{int64(5), int64(-4), nil, "true", nil, nil},
		}, rowsOf(t, w.st, `SELECT qty, size, flag, CASE WHEN yes THEN 'true' ELSE 'false' END, `+day+`, `+at+` FROM products ORDER BY id`))
	})
}

// Text becomes a number, date, datetime, uuid or JSON as PostgreSQL's input reads it, stored
// in Kiln's forms: a datetime in UTC to the microsecond, a uuid in lower case.
func TestMigrationsConvertTextLikePostgres(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := specWith("      num: string\n      day: string\n      at: string\n      ref: string\n      doc: string\n")
		v2 := specWith("      num: number\n      day: date\n      at: datetime\n      ref: uuid\n      doc: json\n")
		w := newWalker(t, dialect, v1)
		cols := ", num, day, at, ref, doc"
		w.insertProduct(p1, cols, " 1e3 ", " 2026-03-04 ", "2026-01-01T10:00:00.123456+05:00", "0192F0A0-0000-7000-8000-0000000000C1", `{"a": 1}`)
		w.insertProduct(p2, cols, "-.5", "2024-02-29", "2026-01-01 10:00", nil, `[1, "x"]`)
		w.insertProduct(p3, cols, "+12.25", nil, "2026-03-04", nil, nil)
		w.up(v2, true)
		at := `"at"`
		if dialect == "postgres" {
			at = `to_char("at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
		}
		require.Equal(t, [][]any{
			{1000.0, "2026-03-04", "2026-01-01T05:00:00.123456Z", "0192f0a0-0000-7000-8000-0000000000c1", `{"a": 1}`},
			{-0.5, "2024-02-29", "2026-01-01T10:00:00.000000Z", nil, `[1, "x"]`},
			{12.25, nil, "2026-03-04T00:00:00.000000Z", nil, nil},
		}, rowsOf(t, w.st, `SELECT num, CAST(day AS TEXT), `+at+`, CAST(ref AS TEXT), CAST(doc AS TEXT) FROM products ORDER BY id`))
	})
}

// Any field becomes text as PostgreSQL renders it, and a datetime as Kiln serves it (UTC, to
// the microsecond) on both: a number in its fewest digits (100, not SQLite's 100.0), a decimal
// with its scale's digits.
func TestMigrationsConvertToText(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := specWith("      num: number\n      at: datetime\n      day: date\n      price: {type: decimal, precision: 10, scale: 2}\n")
		v2 := specWith("      num: string\n      at: string\n      day: string\n      price: string\n")
		w := newWalker(t, dialect, v1)
		price := any(12.3)
		if dialect == "sqlite" {
			price = 1230
		}
		w.insertProduct(p1, ", num, at, day, price", 100.0, "2026-01-01T10:00:00.500000Z", "2026-03-04", price)
		w.insertProduct(p2, ", num, at, day, price", 1e20, nil, nil, nil)
		w.insertProduct(p3, ", num, at, day, price", 2.675, nil, nil, nil)
		w.up(v2, true)
		require.Equal(t, [][]any{
			{"100", "2026-01-01T10:00:00.500000Z", "2026-03-04", "12.30"},
			{"1e+20", nil, nil, nil},
			{"2.675", nil, nil, nil},
		}, rowsOf(t, w.st, `SELECT num, at, day, price FROM products ORDER BY id`))
	})
}

// A value the new type cannot hold stops the migration, as PostgreSQL refuses it: the whole
// migration is rolled back and stays pending, the value untouched; SQLite's error names the
// table, column and value. Once the value is fixed, the same migration applies.
func TestMigrationsRefuseValuesTheNewTypeCannotHold(t *testing.T) {
	cases := []struct {
		name, from, to string
		bad, good      any
		sqliteWhy      string
	}{
		{name: "IntegerPastDecimal", from: "integer", to: "{type: decimal, precision: 12, scale: 2}", bad: int64(9223372036854775807), good: int64(5),
			sqliteWhy: "products[x]: numeric field overflow: 9223372036854775807 does not fit decimal(12,2)"},
		{name: "NumberPastDecimal", from: "number", to: "{type: decimal, precision: 12, scale: 2}", bad: 1e11, good: 1e9,
			sqliteWhy: "products[x]: numeric field overflow: 100000000000.0 does not fit decimal(12,2)"},
		{name: "NarrowerDecimal", from: "{type: decimal, precision: 10, scale: 2}", to: "{type: decimal, precision: 6, scale: 2}",
			bad: "1234567.89", good: "9999.99", sqliteWhy: "products[x]: numeric field overflow: 1234567.89 does not fit decimal(6,2)"},
		{name: "RoundedPastDecimal", from: "{type: decimal, precision: 10, scale: 2}", to: "{type: decimal, precision: 5, scale: 1}",
			bad: "9999.95", good: "9999.94", sqliteWhy: "products[x]: numeric field overflow: 9999.95 does not fit decimal(5,1)"},
		{name: "TextNotDecimal", from: "string", to: "{type: decimal, precision: 10, scale: 2}", bad: "12,5", good: "12.5",
			sqliteWhy: "products[x]: not a number in plain decimal notation: '12,5'"},
		{name: "TextPastDecimal", from: "string", to: "{type: decimal, precision: 4, scale: 2}", bad: "99.995", good: "99.994",
			sqliteWhy: "products[x]: numeric field overflow: 99.995 does not fit decimal(4,2)"},
		{name: "TextNotInteger", from: "string", to: "integer", bad: "abc", good: "1", sqliteWhy: "products[x]: invalid input syntax for type bigint: 'abc'"},
		{name: "EmptyTextNotInteger", from: "string", to: "integer", bad: "", good: "0", sqliteWhy: "products[x]: invalid input syntax for type bigint: ''"},
		{name: "ExponentNotInteger", from: "string", to: "integer", bad: "1e3", good: "1000", sqliteWhy: "products[x]: invalid input syntax for type bigint: '1e3'"},
		{name: "TextPastInteger", from: "string", to: "integer", bad: "9223372036854775808", good: "-9223372036854775808",
			sqliteWhy: "products[x]: value '9223372036854775808' is out of range for type bigint"},
		{name: "NumberPastInteger", from: "number", to: "integer", bad: 1e19, good: 9e18, sqliteWhy: "products[x]: bigint out of range: 1.0e+19"},
		{name: "TextNotNumber", from: "string", to: "number", bad: "12 kg", good: "12", sqliteWhy: "products[x]: invalid input syntax for type double precision: '12 kg'"},
		{name: "TextPastNumber", from: "string", to: "number", bad: "1e400", good: "1e300", sqliteWhy: "products[x]: '1e400' is out of range for type double precision"},
		{name: "TextNotDate", from: "string", to: "date", bad: "2026-02-30", good: "2026-02-28", sqliteWhy: "products[x]: not a date in YYYY-MM-DD form: '2026-02-30'"},
		{name: "TextNotDatetime", from: "string", to: "datetime", bad: "soon", good: "2026-01-01T10:00:00Z",
			sqliteWhy: "products[x]: not a datetime in ISO 8601 form (to microseconds): 'soon'"},
		{name: "TextNotUUID", from: "string", to: "uuid", bad: "42", good: "0192F0A0-0000-7000-8000-0000000000A1", sqliteWhy: "products[x]: invalid input syntax for type uuid: '42'"},
		{name: "TextNotJSON", from: "string", to: "json", bad: "{", good: "{}", sqliteWhy: "products[x]: invalid input syntax for type json: '{'"},
		{name: "TextNotBoolean", from: "string", to: "boolean", bad: "maybe", good: "No", sqliteWhy: "products[x]: invalid input syntax for type boolean: 'maybe'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachMigrationDialect(t, func(t *testing.T, dialect string) {
				v1, v2 := specWith("      x: "+tc.from+"\n"), specWith("      x: "+tc.to+"\n")
				w := newWalker(t, dialect, v1)
				bad, good := tc.bad, tc.good
				if s, ok := bad.(string); ok && dialect == "sqlite" && tc.from[0] == '{' { // a decimal's minor units
					bad, good = unitsOf(t, s), unitsOf(t, good.(string))
				}
				w.insertProduct(p1, ", x", good)
				w.insertProduct(p2, ", x", bad)
				_, err := w.plan(v2, true)
				require.NoError(t, err)
				_, err = w.m.Up(context.Background(), nil)
				require.ErrorIs(t, err, store.ErrInvalidValue)
				if dialect == "sqlite" {
					require.ErrorContains(t, err, tc.sqliteWhy)
				}
				w.check(v1, "after a refused up")
				pending, err := w.m.Pending(context.Background())
				require.NoError(t, err)
				require.Len(t, pending, 1, "the refused migration is still pending")
				require.Equal(t, 2, count(t, w.st, "SELECT COUNT(*) FROM products"))

				w.mustExec(`UPDATE products SET x = ? WHERE id = ?`, good, p2)
				w.reapply(v2)
			})
		})
	}
}

func unitsOf(t *testing.T, s string) int64 {
	t.Helper()
	var units int64
	for _, r := range s {
		if r != '.' {
			units = units*10 + int64(r-'0')
		}
	}
	return units
}

// A change PostgreSQL has no cast for (a boolean to an integer, a date to a number) is refused
// there whatever the rows; SQLite refuses it while the column holds a value, naming it, and
// both roll back whole. With the column empty, SQLite applies it.
func TestMigrationsRefuseChangesWithoutACast(t *testing.T) {
	cases := []struct {
		name, from, to string
		value          any
		sqliteWhy      string
	}{
		{name: "BooleanToInteger", from: "boolean", to: "integer", value: true, sqliteWhy: "products[x]: boolean does not convert to integer: 1"},
		{name: "IntegerToBoolean", from: "integer", to: "boolean", value: 5, sqliteWhy: "products[x]: integer does not convert to boolean: 5"},
		{name: "DateToInteger", from: "date", to: "integer", value: "2026-03-04", sqliteWhy: "products[x]: date does not convert to integer: '2026-03-04'"},
		{name: "NumberToDatetime", from: "number", to: "datetime", value: 2.5, sqliteWhy: "products[x]: real does not convert to timestamp: 2.5"},
		{name: "DatetimeToDecimal", from: "datetime", to: "{type: decimal, precision: 10, scale: 2}", value: stamp,
			sqliteWhy: "products[x]: timestamp does not convert to decimal(10,2): '" + stamp + "'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachMigrationDialect(t, func(t *testing.T, dialect string) {
				v1, v2 := specWith("      x: "+tc.from+"\n"), specWith("      x: "+tc.to+"\n")
				w := newWalker(t, dialect, v1)
				w.insertProduct(p1, ", x", tc.value)
				_, err := w.plan(v2, true)
				require.NoError(t, err)
				_, err = w.m.Up(context.Background(), nil)
				require.Error(t, err)
				if dialect == "sqlite" {
					require.ErrorIs(t, err, store.ErrInvalidValue)
					require.ErrorContains(t, err, tc.sqliteWhy)
				}
				w.check(v1, "after a refused up")
				require.Equal(t, 1, count(t, w.st, "SELECT COUNT(*) FROM products WHERE x IS NOT NULL"))
				if dialect == "sqlite" {
					w.mustExec(`UPDATE products SET x = NULL`)
					w.reapply(v2)
				}
			})
		})
	}
}
