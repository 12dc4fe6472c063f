package migrate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// ddl renders schema statements for one dialect ("sqlite" or "postgres").
type ddl struct{ dialect string }

func q(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }

func (d ddl) pg() bool { return d.dialect == "postgres" }

func (d ddl) colType(t string) string {
	if p, s, ok := decimalShape(t); ok {
		if d.pg() {
			return fmt.Sprintf("NUMERIC(%d,%d)", p, s)
		}
		return "INTEGER" // minor units: exact, sortable, indexable
	}
	pg := map[string]string{"uuid": "UUID", "text": "TEXT", "integer": "BIGINT", "real": "DOUBLE PRECISION",
		"boolean": "BOOLEAN", "timestamp": "TIMESTAMPTZ", "date": "DATE", "json": "JSONB"}
	lite := map[string]string{"uuid": "TEXT", "text": "TEXT", "integer": "INTEGER", "real": "REAL",
		"boolean": "INTEGER", "timestamp": "TEXT", "date": "TEXT", "json": "TEXT"}
	if d.pg() {
		return pg[t]
	}
	return lite[t]
}

func (d ddl) defaultLit(c Column) string {
	v := *c.Default
	switch {
	case c.Type == "boolean":
		b, _ := strconv.ParseBool(v)
		if d.pg() {
			return strings.ToUpper(strconv.FormatBool(b))
		}
		if b {
			return "1"
		}
		return "0"
	case c.Type == "integer" || c.Type == "real":
		return v
	case strings.HasPrefix(c.Type, "decimal"):
		_, s, _ := decimalShape(c.Type)
		dec, _, err := value.Rescale(v, s)
		if err != nil {
			return "0"
		}
		if d.pg() {
			return dec.String()
		}
		return strconv.FormatInt(dec.Units, 10)
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

func (d ddl) columnDef(c Column, table string) string {
	s := q(c.Name) + " " + d.colType(c.Type)
	if c.NotNull {
		s += " NOT NULL"
	}
	if c.Default != nil {
		s += " DEFAULT " + d.defaultLit(c)
	}
	if c.References != "" {
		s += " " + d.references(c, table)
	}
	return s
}

func (d ddl) references(c Column, table string) string {
	s := "REFERENCES " + q(c.References) + " (" + q("id") + ") ON DELETE " + c.OnDelete
	if d.pg() {
		s = "CONSTRAINT " + q(fkName(table, c.Name)) + " " + s
	}
	return s
}

func fkName(table, col string) string { return table + "_" + col + "_fkey" }

func (d ddl) createTable(t Table, name string) string {
	defs := make([]string, 0, len(t.Columns)+1)
	for _, c := range t.Columns {
		defs = append(defs, d.columnDef(c, t.Name))
	}
	pk := make([]string, len(t.PrimaryKey))
	for i, c := range t.PrimaryKey {
		pk[i] = q(c)
	}
	defs = append(defs, "PRIMARY KEY ("+strings.Join(pk, ", ")+")")
	return "CREATE TABLE " + q(name) + " (\n  " + strings.Join(defs, ",\n  ") + "\n)"
}

func (d ddl) createIndex(table string, ix Index) string {
	cols := make([]string, len(ix.Columns))
	for i, c := range ix.Columns {
		cols[i] = q(c)
	}
	kw := "CREATE INDEX "
	if ix.Unique {
		kw = "CREATE UNIQUE INDEX "
	}
	out := kw + q(ix.Name) + " ON " + q(table) + " (" + strings.Join(cols, ", ") + ")"
	if ix.Live {
		out += " WHERE " + q(store.DeletedColumn) + " IS NULL"
	}
	return out
}

func (d ddl) dropIndex(ix Index) string { return "DROP INDEX " + q(ix.Name) }

func (d ddl) dropTable(name string) string { return "DROP TABLE " + q(name) }

// convert returns the expression that turns a column of type from into type to while
// copying rows (SQLite rebuilds) or in ALTER ... USING (PostgreSQL).
func (d ddl) convert(col, from, to string) string {
	if from == to {
		return q(col)
	}
	fp, fs, fromDec := decimalShape(from)
	_, ts, toDec := decimalShape(to)
	_ = fp
	if d.pg() {
		return q(col) + "::" + d.colType(to)
	}
	switch {
	case fromDec && toDec && ts >= fs:
		return fmt.Sprintf("%s * %d", q(col), value.Pow10(ts-fs))
	case fromDec && toDec:
		return roundDiv(q(col), value.Pow10(fs-ts))
	case from == "integer" && toDec:
		return fmt.Sprintf("%s * %d", q(col), value.Pow10(ts))
	case fromDec && to == "real":
		return fmt.Sprintf("CAST(%s AS REAL) / %d", q(col), value.Pow10(fs))
	case fromDec && to == "integer":
		return roundDiv(q(col), value.Pow10(fs))
	case fromDec && to == "text":
		return fmt.Sprintf("CAST(%s AS REAL) / %d", q(col), value.Pow10(fs))
	}
	return "CAST(" + q(col) + " AS " + d.colType(to) + ")"
}

// roundDiv divides SQLite integer minor units by p, rounding half away from zero as
// PostgreSQL's NUMERIC casts do (SQLite's integer division alone would truncate).
func roundDiv(col string, p int64) string {
	return fmt.Sprintf("(%s + CASE WHEN %s < 0 THEN -%d ELSE %d END) / %d", col, col, p/2, p/2, p)
}
