package migrate

import "fmt"

// Text into a number, date, datetime, uuid or JSON: SQLite's CAST would keep any text (or
// make it 0), which reads then serve wrongly or fail on. Each keeps what PostgreSQL's input
// function takes in the forms listed and refuses the rest, naming the value.

// textToReal takes decimal notation with an optional exponent ("1e3", " -.5 "), as
// PostgreSQL's float8 input does; NaN and Infinity, which a Kiln number cannot hold, and
// numbers past a float are refused.
func textToReal(c string) sqliteConv {
	v, b, _ := signed(c)
	lb := "lower(" + b + ")"
	e := "instr(" + lb + " || 'e', 'e')"
	mant := "substr(" + lb + ", 1, " + e + " - 1)"
	ex := "substr(" + lb + ", " + e + " + 1)"
	exDigits := "(CASE WHEN substr(" + ex + ", 1, 1) IN ('+', '-') THEN substr(" + ex + ", 2) ELSE " + ex + " END)"
	valid := fmt.Sprintf("(%s GLOB '*[0-9]*' AND NOT %s GLOB '*[^0-9.]*' AND NOT %s GLOB '*.*.*' AND (instr(%s, 'e') = 0 OR (%s <> '' AND NOT %s GLOB '*[^0-9]*')))",
		mant, mant, mant, lb, exDigits, exDigits)
	f := "CAST(" + v + " AS REAL)"
	return sqliteConv{
		expr: f,
		refuse: []refusal{
			{when: "NOT " + valid, why: "'invalid input syntax for type double precision: ' || quote(" + c + ")"},
			{when: fmt.Sprintf("abs(%s) > 1.7976931348623157e308 OR (%s = 0 AND %s GLOB '*[1-9]*')", f, f, mant),
				why: "quote(" + c + ") || ' is out of range for type double precision'"},
		},
	}
}

// textToDate takes YYYY-MM-DD, a day that exists (PostgreSQL's other spellings are refused).
func textToDate(c string) sqliteConv {
	v := "trim(" + c + ", " + sqliteSpace + ")"
	return sqliteConv{expr: v, refuse: []refusal{{
		when: "NOT (" + v + " GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND date(" + v + ") IS " + v + ")",
		why:  "'not a date in YYYY-MM-DD form: ' || quote(" + c + ")",
	}}}
}

// textToTimestamp takes ISO 8601: YYYY-MM-DD, optionally T or space and HH:MM[:SS[.ffffff]]
// and Z or ±HH:MM (none is UTC), and stores it in UTC in value.TimeLayout. The fraction is
// kept aside: SQLite's date functions round it to milliseconds, which can change the second.
func textToTimestamp(c string) sqliteConv {
	v := "trim(" + c + ", " + sqliteSpace + ")"
	hasFrac := "substr(" + v + ", 20, 1) = '.'"
	tail := "substr(" + v + ", 21)"
	n := "(length(" + tail + ") - length(ltrim(" + tail + ", '0123456789')))" // the fraction's digits
	whole := fmt.Sprintf("(CASE WHEN %s THEN substr(%s, 1, 19) || substr(%s, 21 + %s) ELSE %s END)", hasFrac, v, v, n, v)
	utc := "strftime('%Y-%m-%dT%H:%M:%S', " + whole + ")"
	frac := fmt.Sprintf("substr((CASE WHEN %s THEN substr(%s, 21, %s) ELSE '' END) || '000000', 1, 6)", hasFrac, v, n)
	day := "substr(" + v + ", 1, 10)"
	valid := fmt.Sprintf("(%s GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' AND date(%s) IS %s AND "+
		"(length(%s) = 10 OR (substr(%s, 11, 1) IN ('T', ' ') AND substr(%s, 12) GLOB '[0-9][0-9]:[0-9][0-9]*')) AND "+
		"%s IS NOT NULL AND NOT (%s AND (%s NOT BETWEEN 1 AND 6)))", v, day, day, v, v, v, utc, hasFrac, n)
	return sqliteConv{expr: utc + " || '.' || " + frac + " || 'Z'", refuse: []refusal{{
		when: "NOT " + valid,
		why:  "'not a datetime in ISO 8601 form (to microseconds): ' || quote(" + c + ")",
	}}}
}

// textToUUID takes the hyphenated form in either case and stores it in lower case, as
// PostgreSQL prints it.
func textToUUID(c string) sqliteConv {
	h := "[0-9a-f]"
	pattern := h + h + h + h + h + h + h + h + "-" + h + h + h + h + "-" + h + h + h + h + "-" + h + h + h + h + "-" +
		h + h + h + h + h + h + h + h + h + h + h + h
	return sqliteConv{expr: "lower(" + c + ")", refuse: []refusal{{
		when: "NOT lower(" + c + ") GLOB '" + pattern + "'",
		why:  "'invalid input syntax for type uuid: ' || quote(" + c + ")",
	}}}
}

// textToJSON keeps valid JSON text and refuses the rest, as PostgreSQL's jsonb input does.
func textToJSON(c string) sqliteConv {
	return sqliteConv{expr: c, refuse: []refusal{{
		when: "NOT json_valid(" + c + ")",
		why:  "'invalid input syntax for type json: ' || quote(" + c + ")",
	}}}
}
