package migrate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/kiln-dev/kiln/internal/store"
)

// Change is one human-readable difference between two schemas.
type Change struct {
	Description string
	Destructive bool
}

// Plan is the SQL that takes a database from one schema to another, and back.
type Plan struct {
	From, To Schema
	Changes  []Change
	Up       []string
	Down     []string
	// Base names the file the plan was made on (PlanFromDir), for the kiln-base line.
	Base string
}

// Empty reports whether the schemas already agree.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

// Destructive lists the changes that can lose data.
func (p Plan) Destructive() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Destructive {
			out = append(out, c)
		}
	}
	return out
}

// Diff plans the way from one schema to another for a dialect.
func Diff(from, to Schema, dialect string) Plan {
	d := ddl{dialect: dialect}
	enums := from.Enums && to.Enums
	f, t := from.on(dialect, enums), to.on(dialect, enums)
	changes, up := d.steps(f, t)
	_, down := d.steps(t, f)
	return Plan{From: from, To: to, Changes: changes, Up: up, Down: down}
}

// on is s as it exists on dialect: without the indexes of another dialect, and with the
// Dialect mark cleared on the rest (an index that gains or loses the mark is unchanged where
// it exists). Without enums, columns lose their enum values: one of the two schemas did not
// record them.
func (s Schema) on(dialect string, enums bool) Schema {
	out := Schema{Tables: make([]Table, len(s.Tables)), Enums: enums}
	for i, t := range s.Tables {
		if !enums {
			t.Columns = withoutEnums(t.Columns)
		}
		ixs := make([]Index, 0, len(t.Indexes))
		for _, ix := range t.Indexes {
			if ix.Dialect == "" || ix.Dialect == dialect {
				ix.Dialect = ""
				ixs = append(ixs, ix)
			}
		}
		if len(ixs) == 0 {
			ixs = nil
		}
		t.Indexes = ixs
		out.Tables[i] = t
	}
	return out
}

func (d ddl) steps(from, to Schema) ([]Change, []string) {
	var changes []Change
	var stmts []string
	exists := map[string]bool{}
	for _, t := range from.Tables {
		exists[t.Name] = true
	}
	// New tables first, then changes to existing ones (a column they gain may refer to a new
	// table, a column they lose may refer to a table dropped below), then the drops, then the
	// foreign keys of tables created before the table they refer to.
	var later []string
	ordered := orderByReferences(to.Tables)
	for _, t := range ordered {
		if from.table(t.Name) != nil {
			continue
		}
		changes = append(changes, Change{Description: "create table " + t.Name})
		t, fks := d.deferForwardKeys(t, exists)
		stmts, later = append(stmts, d.createTable(t, t.Name)), append(later, fks...)
		for _, ix := range t.Indexes {
			stmts = append(stmts, d.createIndex(t.Name, ix))
		}
		exists[t.Name] = true
	}
	for _, t := range ordered {
		if old := from.table(t.Name); old != nil {
			c, s := d.alterTable(*old, t)
			changes, stmts = append(changes, c...), append(stmts, s...)
		}
	}
	// Referencing tables before the ones they reference (PostgreSQL refuses to drop a table
	// another one still points at; the declared order need not say which).
	old := orderByReferences(from.Tables)
	var dropped []string
	for i := len(old) - 1; i >= 0; i-- {
		if t := old[i]; to.table(t.Name) == nil {
			changes = append(changes, Change{Description: "drop table " + t.Name, Destructive: true})
			dropped = append(dropped, t.Name)
		}
	}
	stmts = append(stmts, d.dropTables(dropped)...)
	return changes, append(stmts, later...)
}

// dropTables drops the tables, referencing ones first. PostgreSQL drops them in one statement,
// so that tables that point at each other go together (it refuses to drop either alone).
func (d ddl) dropTables(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	if d.pg() {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = q(n)
		}
		return []string{"DROP TABLE " + strings.Join(quoted, ", ")}
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = d.dropTable(n)
	}
	return out
}

// deferForwardKeys takes out of t, on PostgreSQL, the references to tables that do not exist
// yet (tables that point at each other: one of them is created first) and returns them as
// ALTER TABLE statements to run once every table is created. SQLite does not check a
// reference when a table is created, and cannot add one afterwards.
func (d ddl) deferForwardKeys(t Table, exists map[string]bool) (Table, []string) {
	if !d.pg() {
		return t, nil
	}
	var fks []string
	cols := slices.Clone(t.Columns)
	for i, c := range cols {
		if c.References == "" || c.References == t.Name || exists[c.References] {
			continue
		}
		fks = append(fks, "ALTER TABLE "+q(t.Name)+" ADD CONSTRAINT "+q(fkName(t.Name, c.Name))+" FOREIGN KEY ("+q(c.Name)+
			") REFERENCES "+q(c.References)+" ("+q("id")+") ON DELETE "+c.OnDelete)
		cols[i].References = ""
	}
	t.Columns = cols
	return t, fks
}

// orderByReferences puts referenced tables before the tables that reference them, so
// PostgreSQL can check REFERENCES at CREATE time; cycles keep their declared order.
func orderByReferences(tables []Table) []Table {
	placed := map[string]bool{}
	names := map[string]bool{}
	for _, t := range tables {
		names[t.Name] = true
	}
	var out []Table
	for len(out) < len(tables) {
		progressed := false
		for _, t := range tables {
			if placed[t.Name] || !refsPlaced(t, placed, names) {
				continue
			}
			out, placed[t.Name], progressed = append(out, t), true, true
		}
		if !progressed {
			for _, t := range tables {
				if !placed[t.Name] {
					out, placed[t.Name] = append(out, t), true
				}
			}
		}
	}
	return out
}

func refsPlaced(t Table, placed, names map[string]bool) bool {
	for _, c := range t.Columns {
		if c.References != "" && c.References != t.Name && names[c.References] && !placed[c.References] {
			return false
		}
	}
	return true
}

func columnsOf(t Table) map[string]Column {
	m := make(map[string]Column, len(t.Columns))
	for _, c := range t.Columns {
		m[c.Name] = c
	}
	return m
}

func (d ddl) alterTable(old, cur Table) ([]Change, []string) {
	var changes []Change
	oldCols, curCols := columnsOf(old), columnsOf(cur)
	for _, c := range old.Columns {
		if _, ok := curCols[c.Name]; !ok {
			changes = append(changes, Change{Description: fmt.Sprintf("drop column %s.%s", old.Name, c.Name), Destructive: true})
		}
	}
	for _, c := range cur.Columns {
		prev, ok := oldCols[c.Name]
		switch {
		case !ok:
			desc := fmt.Sprintf("add column %s.%s %s", cur.Name, c.Name, c.Type)
			if c.NotNull && c.Default == nil {
				desc += " (required without default: fails if the table has rows)"
			}
			changes = append(changes, Change{Description: desc})
		case !reflect.DeepEqual(withoutEnum(prev), withoutEnum(c)):
			desc := fmt.Sprintf("alter column %s.%s: %s", cur.Name, c.Name, describe(prev, c))
			if c.NotNull && !prev.NotNull {
				desc += " (now required: fails if a row has no value)" // a default fills new rows only
			}
			changes = append(changes, Change{Description: desc, Destructive: narrowing(prev.Type, c.Type)})
		}
	}
	columnsChanged := len(changes) > 0
	ixChanges, dropIx, addIx := diffIndexes(old, cur)
	changes = append(changes, ixChanges...)
	var pre []string
	if _, was := oldCols[store.DeletedColumn]; was {
		if _, is := curCols[store.DeletedColumn]; !is {
			// soft_delete turned off: deleted rows must go, or they would come back to life.
			changes = append(changes, Change{Description: "delete the soft-deleted records of " + cur.Name, Destructive: true})
			pre = append(pre, "DELETE FROM "+q(old.Name)+" WHERE "+q(store.DeletedColumn)+" IS NOT NULL")
		}
	}
	enumChanges, checks := d.enumChecks(old, cur)
	changes = append(changes, enumChanges...)
	var stmts []string
	switch {
	case !columnsChanged:
		stmts = append(dropIx, d.createIndexes(cur.Name, addIx)...)
	case d.pg():
		stmts = append(pre, d.alterPostgres(old, cur, dropIx, addIx)...)
	default:
		stmts = append(pre, d.alterSQLite(old, cur)...)
	}
	return changes, append(stmts, checks...) // the checks read the values the table now holds
}

func (d ddl) createIndexes(table string, ixs []Index) []string {
	var out []string
	for _, ix := range ixs {
		out = append(out, d.createIndex(table, ix))
	}
	return out
}

func diffIndexes(old, cur Table) ([]Change, []string, []Index) {
	var changes []Change
	var drops []string
	var adds []Index
	oldIx := map[string]Index{}
	for _, ix := range old.Indexes {
		oldIx[ix.Name] = ix
	}
	curIx := map[string]Index{}
	for _, ix := range cur.Indexes {
		curIx[ix.Name] = ix
	}
	for _, ix := range old.Indexes {
		if c, ok := curIx[ix.Name]; !ok || !reflect.DeepEqual(c, ix) {
			changes = append(changes, Change{Description: "drop index " + ix.Name})
			drops = append(drops, ddl{}.dropIndex(ix))
		}
	}
	for _, ix := range cur.Indexes {
		if o, ok := oldIx[ix.Name]; !ok || !reflect.DeepEqual(o, ix) {
			kind, warn := "index", ""
			if ix.Unique {
				kind, warn = "unique index", " (fails if existing rows repeat a value)"
			}
			changes = append(changes, Change{Description: fmt.Sprintf("create %s %s on %s(%s)%s", kind, ix.Name, cur.Name, strings.Join(ix.Columns, ", "), warn)})
			adds = append(adds, ix)
		}
	}
	return changes, drops, adds
}

func describe(a, b Column) string {
	var parts []string
	if a.Type != b.Type {
		parts = append(parts, fmt.Sprintf("type %s -> %s", a.Type, b.Type))
	}
	if a.NotNull != b.NotNull {
		parts = append(parts, fmt.Sprintf("required %v -> %v", a.NotNull, b.NotNull))
	}
	if !reflect.DeepEqual(a.Default, b.Default) {
		parts = append(parts, "default changed")
	}
	if a.References != b.References || a.OnDelete != b.OnDelete {
		parts = append(parts, "reference changed")
	}
	return strings.Join(parts, ", ")
}

// narrowing reports whether converting from one column type to another can lose data.
func narrowing(from, to string) bool {
	if from == to || to == "text" {
		return false
	}
	fp, fs, fromDec := decimalShape(from)
	tp, ts, toDec := decimalShape(to)
	switch {
	case fromDec && toDec:
		return ts < fs || tp-ts < fp-fs
	case from == "integer" && (to == "real" || toDec):
		return toDec && tp-ts < 18
	case from == "uuid" && to == "text":
		return false
	}
	return true
}
