package migrate

import (
	"fmt"
	"slices"
	"strings"
)

// withoutEnum is c without its enum values: they change no column definition.
func withoutEnum(c Column) Column {
	c.Enum = nil
	return c
}

func withoutEnums(cols []Column) []Column {
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = withoutEnum(c)
	}
	return out
}

// enumChecks are the changes of the enum values of cur's columns, and the statements that
// refuse the migration while a row holds a value the new enum lacks. A value added (or the
// enum dropped, the column taking any text) changes no row: it is recorded, with no SQL. A
// value removed, or a column becoming an enum (from text or another type, converted first),
// narrows the column: destructive, and checked against the rows on both dialects.
func (d ddl) enumChecks(old, cur Table) ([]Change, []string) {
	var changes []Change
	var stmts []string
	oldCols := columnsOf(old)
	for _, c := range cur.Columns {
		prev, ok := oldCols[c.Name]
		if !ok {
			continue // a new column: its rows hold its default, which the spec checks
		}
		at := fmt.Sprintf("%s.%s", cur.Name, c.Name)
		switch {
		case len(c.Enum) == 0 && len(prev.Enum) > 0:
			changes = append(changes, Change{Description: "alter column " + at + ": enum -> any text"})
		case len(c.Enum) == 0:
		case len(prev.Enum) == 0 || prev.Type != c.Type:
			changes = append(changes, Change{Destructive: true,
				Description: fmt.Sprintf("alter column %s: restrict to the enum values %s (refused while a row holds another value)", at, strings.Join(c.Enum, ", "))})
			stmts = append(stmts, d.enumCheck(cur.Name, c.Name, c.Enum))
		default:
			removed, added := setDiff(prev.Enum, c.Enum), setDiff(c.Enum, prev.Enum)
			if len(removed) > 0 {
				changes = append(changes, Change{Destructive: true,
					Description: fmt.Sprintf("alter column %s: remove the enum values %s (refused while a row holds one)", at, strings.Join(removed, ", "))})
				stmts = append(stmts, d.enumCheck(cur.Name, c.Name, c.Enum))
			}
			if len(added) > 0 {
				changes = append(changes, Change{Description: fmt.Sprintf("alter column %s: add the enum values %s", at, strings.Join(added, ", "))})
			}
		}
	}
	return changes, stmts
}

// setDiff lists the values of a that b lacks, in a's order.
func setDiff(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

// enumCheck is one statement that stops the migration when a row of table holds, in col, a
// value outside values, naming table[column] and the value: on SQLite through the refusal
// trigger the type conversions use, on PostgreSQL by raising an invalid-value error (22023).
func (d ddl) enumCheck(table, col string, values []string) string {
	lits := make([]string, len(values))
	for i, v := range values {
		lits[i] = lit(v)
	}
	c := q(col)
	outside := c + " IS NOT NULL AND " + c + " NOT IN (" + strings.Join(lits, ", ") + ")"
	why := " || ' is not one of the enum values " + strings.ReplaceAll(strings.Join(values, ", "), "'", "''") + "'"
	if !d.pg() {
		r := refusal{when: outside, why: "quote(" + c + ")" + why}
		return strings.Join(refusalStmts(table, []string{col}, []sqliteConv{{refuse: []refusal{r}}}), ";\n")
	}
	msg := lit("migration refused: "+table+"["+col+"]: ") + " || quote_literal(v)" + why
	return "DO $kiln$ DECLARE v text; BEGIN SELECT " + c + " INTO v FROM " + q(table) + " WHERE " + outside +
		" LIMIT 1; IF FOUND THEN RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = " + msg + "; END IF; END $kiln$"
}
