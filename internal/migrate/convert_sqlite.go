package migrate

import (
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/value"
)

// sqliteConv is how a SQLite rebuild turns one column's values into another type: the
// expression the copy selects, and the values it refuses. Each conversion gives what
// PostgreSQL's cast gives (its ALTER ... USING) or, where PostgreSQL refuses a value or where
// SQL here cannot match it exactly, refuses the migration naming the table, column and value.
type sqliteConv struct {
	expr   string
	refuse []refusal
}

// refusal is a predicate on the old row that stops the migration, and why.
type refusal struct {
	when string // SQL predicate over the old table's columns
	why  string // SQL text expression: the reason, naming the value
}

// sqliteSpace is what PostgreSQL's input functions skip around a number or boolean (isspace).
const sqliteSpace = "' ' || char(9, 10, 11, 12, 13)"

// convertSQLite returns the conversion of column col from type from into type to.
func convertSQLite(col, from, to string) sqliteConv {
	c := q(col)
	if conv, ok := textTo(c, to); ok && from == "text" {
		return conv
	}
	fp, fs, fromDec := decimalShape(from)
	tp, ts, toDec := decimalShape(to)
	switch {
	case fromDec && toDec:
		return decimalToDecimal(c, fp, fs, tp, ts)
	case from == "integer" && toDec:
		return sqliteConv{expr: fmt.Sprintf("%s * %d", c, value.Pow10(ts)), refuse: outside(c, value.Pow10(tp-ts), c, to)}
	case from == "real" && toDec:
		return realToDecimal(c, tp, ts)
	case fromDec && to == "real":
		return sqliteConv{expr: fmt.Sprintf("CAST(%s AS REAL) / %d", c, value.Pow10(fs))}
	case fromDec && to == "integer":
		return sqliteConv{expr: roundDiv(c, value.Pow10(fs))}
	case fromDec && to == "text":
		return sqliteConv{expr: decimalText(c, fs)}
	case from == "real" && to == "integer":
		return realToInteger(c)
	case from == "real" && to == "text":
		return realToText(c)
	case from == "boolean" && to == "text":
		return sqliteConv{expr: "CASE WHEN " + c + " THEN 'true' WHEN NOT " + c + " THEN 'false' END"}
	case from == "date" && to == "timestamp":
		return sqliteConv{expr: c + " || 'T00:00:00.000000Z'"} // midnight UTC, value.TimeLayout
	case from == "timestamp" && to == "date":
		return sqliteConv{expr: "substr(" + c + ", 1, 10)"} // stored in UTC: its date is the UTC date
	}
	return castOrRefuse(c, from, to)
}

// castOrRefuse is every other change. Into text, and from integer to number, SQLite's CAST
// gives PostgreSQL's value. Most of the rest have no cast in PostgreSQL (a boolean to an
// integer, a date to a number, a number to a date or uuid), which refuses the change whatever
// the rows; SQLite refuses it while the column holds a value, which its CAST would garble (a
// date as the integer 2026). JSON into a number or boolean, which PostgreSQL casts for a JSON
// scalar, is refused here too.
func castOrRefuse(c, from, to string) sqliteConv {
	conv := sqliteConv{expr: "CAST(" + c + " AS " + ddl{dialect: "sqlite"}.colType(to) + ")"}
	if to == "text" || (from == "integer" && to == "real") || from == "serial" || to == "serial" {
		return conv
	}
	conv.refuse = []refusal{{when: c + " IS NOT NULL",
		why: fmt.Sprintf("'%s does not convert to %s: ' || quote(%s)", from, to, c)}}
	return conv
}

// realToText renders a float as PostgreSQL's float8::text does: the fewest significant digits
// that read back as the same float (0.1, 100), in exponent form below 1e-4 and from 1e15
// (1e-05, 1.5e+300); SQLite's CAST gives 15 digits and ".0". When 15 digits read back, that
// form (zeros dropped) is the shortest. SQLite's printf is not exact at 17 digits, so a float
// that needs them (0.30000000000000004), and the subnormals, are refused.
func realToText(c string) sqliteConv {
	back := func(n int) string { return fmt.Sprintf("CAST(printf('%%.%dg', %s) AS REAL) = %s", n, c, c) }
	digits := "(CASE WHEN " + back(15) + " THEN 15 ELSE 16 END)"
	e := "printf('%.' || (" + digits + " - 1) || 'e', " + c + ")"
	mant := "substr(" + e + ", 1, instr(" + e + ", 'e') - 1)"
	exp := "rtrim(rtrim(" + mant + ", '0'), '.') || substr(" + e + ", instr(" + e + ", 'e'))"
	return sqliteConv{
		expr: fmt.Sprintf("CASE WHEN %[1]s = 0 THEN '0' WHEN abs(%[1]s) >= 1e15 OR abs(%[1]s) < 1e-4 THEN %[2]s ELSE printf('%%.' || %[3]s || 'g', %[1]s) END",
			c, exp, digits),
		refuse: []refusal{{when: fmt.Sprintf("%s <> 0 AND (abs(%s) < 2.2250738585072014e-308 OR NOT (%s OR %s))", c, c, back(15), back(16)),
			why: "'a number of 17 significant digits, or subnormal, has no text SQLite renders as PostgreSQL does: ' || printf('%!.17g', " + c + ")"}},
	}
}

// textTo converts text into a number, boolean, date, datetime, uuid or JSON.
func textTo(c, to string) (sqliteConv, bool) {
	if p, s, ok := decimalShape(to); ok {
		return textToDecimal(c, p, s), true
	}
	switch to {
	case "integer":
		return textToInteger(c), true
	case "boolean":
		return textToBoolean(c), true
	case "real":
		return textToReal(c), true
	case "date":
		return textToDate(c), true
	case "timestamp":
		return textToTimestamp(c), true
	case "uuid":
		return textToUUID(c), true
	case "json":
		return textToJSON(c), true
	}
	return sqliteConv{}, false
}

// outside refuses a result that has more integer digits than a decimal(p,s) holds: units at
// or beyond limit (10^integer digits in the same units) either way, as PostgreSQL's "numeric
// field overflow". shown is the value the message names; check is the predicate's subject.
func outside(check string, limit int64, shown, to string) []refusal {
	return []refusal{{
		when: fmt.Sprintf("%s >= %d OR %s <= -%d", check, limit, check, limit),
		why:  overflowWhy(shown, to),
	}}
}

func overflowWhy(shown, to string) string {
	return fmt.Sprintf("'numeric field overflow: ' || %s || ' does not fit %s'", shown, to)
}

func decimalToDecimal(c string, fp, fs, tp, ts int) sqliteConv {
	to := fmt.Sprintf("decimal(%d,%d)", tp, ts)
	var conv sqliteConv
	if ts >= fs {
		conv.expr = fmt.Sprintf("%s * %d", c, value.Pow10(ts-fs))
	} else {
		conv.expr = roundDiv(c, value.Pow10(fs-ts))
	}
	if tp-ts < fp-fs { // fewer integer digits: the rounded value must still fit
		conv.refuse = outside("("+conv.expr+")", value.Pow10(tp), decimalText(c, fs), to)
	}
	return conv
}

// decimalText renders minor units at scale s as PostgreSQL's numeric::text does ("12.30").
func decimalText(c string, s int) string {
	if s == 0 {
		return "CAST(" + c + " AS TEXT)"
	}
	p := value.Pow10(s)
	return fmt.Sprintf("CASE WHEN %[1]s IS NOT NULL THEN (CASE WHEN %[1]s < 0 THEN '-' ELSE '' END) || (abs(%[1]s) / %[2]d) || '.' || "+
		"substr('%[3]s' || (abs(%[1]s) %% %[2]d), -%[4]d) END", c, p, strings.Repeat("0", s), s)
}

// realToDecimal converts as PostgreSQL's float8::numeric does: the float's 15 significant
// digits (DBL_DIG, so 2.675 is 2.675, not 2.67499999...), rounded half away from zero to the
// scale. printf's %.14e gives them as an integer mantissa and a power of ten, so the rest is
// exact integer arithmetic.
func realToDecimal(c string, p, s int) sqliteConv {
	t := "printf('%.14e', " + c + ")"
	mant := "CAST(replace(substr(" + t + ", 1, instr(" + t + ", 'e') - 1), '.', '') AS INTEGER)"
	k := fmt.Sprintf("(CAST(substr(%s, instr(%s, 'e') + 1) AS INTEGER) + %d)", t, t, s-14)
	pow := func(n string) string { return "CAST(substr('1000000000000000000', 1, " + n + " + 1) AS INTEGER)" }
	units := fmt.Sprintf("CASE WHEN %s = 0 THEN 0 WHEN %s >= 0 THEN %s * %s WHEN %s >= -18 THEN %s ELSE 0 END",
		c, k, mant, pow(k), k, roundDivBy(mant, pow("-"+k)))
	limit := value.Pow10(p)
	return sqliteConv{expr: units, refuse: []refusal{{
		// a mantissa of 15 digits times 10^4 has 19: past any decimal's 18
		when: fmt.Sprintf("%s <> 0 AND (instr(%s, 'e') = 0 OR %s > 3 OR (%s) >= %d OR (%s) <= -%d)", c, t, k, units, limit, units, limit),
		why:  overflowWhy(c, fmt.Sprintf("decimal(%d,%d)", p, s)),
	}}}
}

// roundDivBy is roundDiv by a divisor computed in SQL.
func roundDivBy(col, d string) string {
	return fmt.Sprintf("(%s + CASE WHEN %s < 0 THEN -(%s / 2) ELSE %s / 2 END) / %s", col, col, d, d, d)
}

// signed splits trimmed text into its sign and the rest, as PostgreSQL's number input does.
func signed(c string) (v, body, negative string) {
	v = "trim(" + c + ", " + sqliteSpace + ")"
	body = "(CASE WHEN substr(" + v + ", 1, 1) IN ('+', '-') THEN substr(" + v + ", 2) ELSE " + v + " END)"
	return v, body, "substr(" + v + ", 1, 1) = '-'"
}

// textToDecimal converts text in plain decimal notation ("-12.345", " .5 ") exactly, rounding
// half away from zero to the scale as PostgreSQL does. Other text is refused: PostgreSQL
// refuses what is not a number, and the exponent forms it takes ("1e3") are refused here too.
func textToDecimal(c string, p, s int) sqliteConv {
	_, b, neg := signed(c)
	dot := "instr(" + b + " || '.', '.')"
	ip := "ltrim(substr(" + b + ", 1, " + dot + " - 1), '0')"
	fp := "substr(" + b + ", " + dot + " + 1)"
	abs := fmt.Sprintf("(CAST(%s || substr(%s || '%s', 1, %d) AS INTEGER) + (substr(%s, %d, 1) >= '5'))",
		ip, fp, strings.Repeat("0", s), s, fp, s+1)
	valid := fmt.Sprintf("(%s GLOB '*[0-9]*' AND NOT %s GLOB '*[^0-9.]*' AND NOT %s GLOB '*.*.*')", b, b, b)
	return sqliteConv{
		expr: "CASE WHEN " + neg + " THEN -" + abs + " ELSE " + abs + " END",
		refuse: []refusal{
			{when: "NOT " + valid, why: "'not a number in plain decimal notation: ' || quote(" + c + ")"},
			{when: fmt.Sprintf("length(%s) > %d OR %s >= %d", ip, p-s, abs, value.Pow10(p)),
				why: overflowWhy(c, fmt.Sprintf("decimal(%d,%d)", p, s))},
		},
	}
}

// textToInteger converts as PostgreSQL's bigint input does: optional space and sign around
// decimal digits; anything else, or a number past bigint, is refused.
func textToInteger(c string) sqliteConv {
	v, b, neg := signed(c)
	digits := "ltrim(" + b + ", '0')"
	return sqliteConv{
		expr: "CAST(" + v + " AS INTEGER)",
		refuse: []refusal{
			{when: "NOT (" + b + " <> '' AND NOT " + b + " GLOB '*[^0-9]*')", why: "'invalid input syntax for type bigint: ' || quote(" + c + ")"},
			{when: fmt.Sprintf("length(%s) > 19 OR (length(%s) = 19 AND %s > CASE WHEN %s THEN '9223372036854775808' ELSE '9223372036854775807' END)",
				digits, digits, digits, neg), why: "'value ' || quote(" + c + ") || ' is out of range for type bigint'"},
		},
	}
}

// realToInteger rounds as PostgreSQL's float8::bigint does (rint: half to even, so 2.5 is 2
// and 3.5 is 4); a float past bigint is refused. It compares the fraction rather than use
// SQLite's round(), which adds 0.5 and so rounds 0.49999999999999994 up.
func realToInteger(c string) sqliteConv {
	f := "CAST(" + c + " AS INTEGER)"
	d := "abs(" + c + " - " + f + ")" // exact: the float's fraction
	return sqliteConv{
		expr: fmt.Sprintf("CASE WHEN %s > 0.5 THEN %s + sign(%s) WHEN %s = 0.5 THEN %s + %s %% 2 ELSE %s END", d, f, c, d, f, f, f),
		refuse: []refusal{{when: c + " >= 9223372036854775808.0 OR " + c + " < -9223372036854775808.0",
			why: "'bigint out of range: ' || " + c}},
	}
}

// PostgreSQL's boolean input: these words (any unique prefix of true, false, yes and no),
// trimmed, in any case; anything else is refused.
const (
	boolTrue  = "'t', 'tr', 'tru', 'true', 'y', 'ye', 'yes', 'on', '1'"
	boolFalse = "'f', 'fa', 'fal', 'fals', 'false', 'n', 'no', 'off', '0'"
)

func textToBoolean(c string) sqliteConv {
	v := "lower(trim(" + c + ", " + sqliteSpace + "))"
	return sqliteConv{
		expr: "CASE WHEN " + v + " IN (" + boolTrue + ") THEN 1 WHEN " + v + " IN (" + boolFalse + ") THEN 0 END",
		refuse: []refusal{{when: v + " NOT IN (" + boolTrue + ", " + boolFalse + ")",
			why: "'invalid input syntax for type boolean: ' || quote(" + c + ")"}},
	}
}

// refusalStmts check the old table's rows before the copy: the first row a refusal matches
// is inserted into a temporary table whose trigger aborts the migration with the message
// (store reads it back as an invalid value naming table[column]).
func refusalStmts(table string, cols []string, convs []sqliteConv) []string {
	var checks []string
	for i, conv := range convs {
		for _, r := range conv.refuse {
			msg := lit("migration refused: "+table+"["+cols[i]+"]: ") + " || " + r.why
			checks = append(checks, "INSERT INTO "+q(refusalTable)+" SELECT "+msg+" FROM "+q(table)+" WHERE "+r.when+" LIMIT 1")
		}
	}
	if len(checks) == 0 {
		return nil
	}
	stmts := []string{
		"CREATE TEMP TABLE IF NOT EXISTS " + q(refusalTable) + " (message TEXT)",
		"CREATE TEMP TRIGGER IF NOT EXISTS " + q(refusalTable+"_abort") + " BEFORE INSERT ON " + q(refusalTable) +
			" BEGIN SELECT RAISE(ABORT, NEW.message); END",
	}
	return append(append(stmts, checks...), "DROP TABLE "+q("temp")+"."+q(refusalTable))
}

const refusalTable = "kiln_refusal"

func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
