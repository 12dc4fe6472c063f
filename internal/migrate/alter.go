package migrate

import (
	"reflect"
	"strings"

	"github.com/kiln-dev/kiln/internal/store"
)

// alterSQLite rebuilds the table: SQLite cannot change, and in most cases cannot drop, a
// column in place. Rows are copied with converted values; indexes are recreated.
func (d ddl) alterSQLite(old, cur Table) []string {
	tmp := store.RebuildPrefix + cur.Name
	oldCols := columnsOf(old)
	var names, exprs, changed []string
	var convs []sqliteConv
	for _, c := range cur.Columns {
		prev, ok := oldCols[c.Name]
		if !ok {
			continue
		}
		names = append(names, q(c.Name))
		if prev.Type == c.Type {
			exprs = append(exprs, q(c.Name))
			continue
		}
		conv := convertSQLite(c.Name, prev.Type, c.Type)
		exprs, changed, convs = append(exprs, conv.expr), append(changed, c.Name), append(convs, conv)
	}
	stmts := append(refusalStmts(old.Name, changed, convs),
		d.createTable(cur, tmp),
		"INSERT INTO "+q(tmp)+" ("+strings.Join(names, ", ")+") SELECT "+strings.Join(exprs, ", ")+" FROM "+q(old.Name),
		d.dropTable(old.Name),
		"ALTER TABLE "+q(tmp)+" RENAME TO "+q(cur.Name),
	)
	return append(stmts, d.createIndexes(cur.Name, cur.Indexes)...)
}

// alterPostgres changes the table in place.
func (d ddl) alterPostgres(old, cur Table, dropIx []string, addIx []Index) []string {
	stmts := append([]string{}, dropIx...)
	at := "ALTER TABLE " + q(cur.Name) + " "
	oldCols, curCols := columnsOf(old), columnsOf(cur)
	for _, c := range old.Columns {
		if _, ok := curCols[c.Name]; !ok {
			stmts = append(stmts, at+"DROP COLUMN "+q(c.Name))
		}
	}
	for _, c := range cur.Columns {
		prev, ok := oldCols[c.Name]
		if !ok {
			stmts = append(stmts, at+"ADD COLUMN "+d.columnDef(c, cur.Name))
			continue
		}
		if reflect.DeepEqual(prev, c) {
			continue
		}
		stmts = append(stmts, d.alterColumnPG(at, cur.Name, prev, c)...)
	}
	return append(stmts, d.createIndexes(cur.Name, addIx)...)
}

func (d ddl) alterColumnPG(at, table string, prev, c Column) []string {
	var stmts []string
	col := "ALTER COLUMN " + q(c.Name) + " "
	if prev.References != "" && (prev.References != c.References || prev.OnDelete != c.OnDelete) {
		stmts = append(stmts, at+"DROP CONSTRAINT "+q(fkName(table, c.Name)))
	}
	if prev.Default != nil && !reflect.DeepEqual(prev.Default, c.Default) {
		stmts = append(stmts, at+col+"DROP DEFAULT")
	}
	if prev.Type != c.Type {
		stmts = append(stmts, at+col+"TYPE "+d.colType(c.Type)+" USING "+d.convert(c.Name, prev.Type, c.Type))
	}
	if c.Default != nil && !reflect.DeepEqual(prev.Default, c.Default) {
		stmts = append(stmts, at+col+"SET DEFAULT "+d.defaultLit(c))
	}
	if prev.NotNull != c.NotNull {
		if c.NotNull {
			stmts = append(stmts, at+col+"SET NOT NULL")
		} else {
			stmts = append(stmts, at+col+"DROP NOT NULL")
		}
	}
	if c.References != "" && (prev.References != c.References || prev.OnDelete != c.OnDelete) {
		stmts = append(stmts, at+"ADD CONSTRAINT "+q(fkName(table, c.Name))+" FOREIGN KEY ("+q(c.Name)+") REFERENCES "+
			q(c.References)+" ("+q("id")+") ON DELETE "+c.OnDelete)
	}
	return stmts
}
