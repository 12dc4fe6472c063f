package store

import (
	"strconv"
	"strings"
)

// eventSQL renders, as one PostgreSQL text expression, a record's event JSON laid out as keys:
// the bytes service.eventJSON writes for the same row (encoding/json's, with HTML characters
// escaped). row qualifies the record's columns, links the relation holding its links as
// kiln_link_N. ok is false when a key has neither a column nor a link, or holds a number.
// PostgreSQL prepares every function of an expression again on each run of a statement, so
// the expression calls few: one concat, and to_json for most values.
func (t *table) eventSQL(keys []EventKey, row, links string) (string, bool) {
	parts := make([]string, 0, 2*len(keys)+1)
	for _, k := range keys {
		v, ok := t.eventValueSQL(k.Field, row, links)
		if !ok {
			return "", false
		}
		parts = append(parts, sqlString(k.Prefix), v)
	}
	parts = append(parts, "'}'")
	doc := "concat(" + strings.Join(parts, ", ") + ")"
	// encoding/json escapes <, > and & (and U+2028, U+2029) wherever they stand, and only a
	// string can hold them: replacing them in the whole document escapes every string's.
	for _, r := range []struct{ from, to string }{
		{"'<'", `E'\\u003c'`}, {"'>'", `E'\\u003e'`}, {"'&'", `E'\\u0026'`},
		{"chr(8232)", `E'\\u2028'`}, {"chr(8233)", `E'\\u2029'`},
	} {
		doc = "replace(" + doc + ", " + r.from + ", " + r.to + ")"
	}
	return doc, true
}

// eventValueSQL is the JSON of one key's value, never NULL.
func (t *table) eventValueSQL(field int, row, links string) (string, bool) {
	ref := func(col string) string { return row + "." + quote(col) }
	switch field {
	case KeyID:
		return jsonStringSQL(ref("id")), true
	case KeyCreated:
		return jsonTimeSQL(ref("created_at")), true
	case KeyUpdated:
		return jsonTimeSQL(ref("updated_at")), true
	case KeyVersion:
		return ref(VersionColumn) + "::text", true
	}
	if field < 0 || field >= len(t.res.Fields) {
		return "", false
	}
	for i, l := range t.links {
		if l.idx == field {
			ids := links + ".kiln_link_" + strconv.Itoa(i)
			return "COALESCE('[\"' || replace(" + ids + ", ',', '\",\"') || '\"]', '[]')", true
		}
	}
	ci, ok := t.byField[t.res.Fields[field].Name]
	if !ok {
		return "", false
	}
	c := t.cols[ci]
	if c.kind == kFloat {
		// PostgreSQL's shortest text of a double is not always Go's (5.9233969476980976e+16
		// against 5.923396947698098e+16: both read back as the same number).
		return "", false
	}
	return jsonValueSQL(c, ref(c.name)), true
}

// jsonValueSQL is the JSON of column c's value x, as eventJSON writes the value Kiln reads.
func jsonValueSQL(c column, x string) string {
	switch c.kind {
	case kInt:
		return "COALESCE(" + x + "::text, 'null')"
	case kBool, kDate: // true or false; "2006-01-02"
		return "COALESCE(to_json(" + x + ")::text, 'null')"
	case kDecimal:
		if c.scale > 0 { // Kiln's decimals drop the trailing zeros of the scale
			return "COALESCE(rtrim(rtrim(" + x + "::text, '0'), '.'), 'null')"
		}
		return "COALESCE(" + x + "::text, 'null')"
	case kTime:
		return jsonTimeSQL(x)
	}
	return jsonStringSQL(x) // text, uuid, and json's text (Kiln reads it as a string)
}

// jsonStringSQL is x's text as a JSON string; PostgreSQL escapes as encoding/json does but
// for the HTML characters, which eventSQL escapes.
func jsonStringSQL(x string) string {
	return "COALESCE(to_json(" + x + "::text)::text, 'null')"
}

// jsonTimeSQL is a timestamptz as time.RFC3339Nano in UTC: PostgreSQL's JSON of the time in
// UTC writes only the fraction's digits needed, and the zone is Z.
func jsonTimeSQL(x string) string {
	return "COALESCE(rtrim(to_json(" + x + " AT TIME ZONE 'UTC')::text, '\"') || 'Z\"', 'null')"
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
