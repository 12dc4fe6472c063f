package migrate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kiln-dev/kiln/internal/store"
)

// explainApply adds to a failed migration's error what it means for the rows and how to
// proceed, when the database's error names a table and column (or the file changes the type
// of one). The migration was rolled back; the queries run after, outside it.
func (m *Migrator) explainApply(ctx context.Context, f File, err error) error {
	var ce *store.ConstraintError
	ok := errors.As(err, &ce) && ce.Table != "" && len(ce.Columns) > 0
	replan := fmt.Sprintf("delete %s and its down file and run `kiln migrate plan` again", filepath.Base(f.UpPath))
	switch {
	case ok && ce.Kind == store.ConstraintNotNull:
		table, col := strings.TrimPrefix(ce.Table, store.RebuildPrefix), ce.Columns[0]
		return fmt.Errorf("%w: %s of %s have no %s, which the migration makes required: give the field a `default` in the spec, %s; or fill those rows %s",
			err, m.nullRows(ctx, table, col), table, col, replan, withClient)
	case ok && ce.Kind == store.ConstraintUnique:
		table := strings.TrimPrefix(ce.Table, store.RebuildPrefix)
		return fmt.Errorf("%w: rows of %s repeat a value of %s%s, which the migration makes unique: remove the duplicates %s; or drop the unique index from the spec, %s",
			err, table, strings.Join(ce.Columns, ", "), m.duplicate(ctx, f, table, ce.Columns), withClient, replan)
	case errors.Is(err, store.ErrInvalidValue):
		what := "" // SQLite's refusal names the table and column; PostgreSQL's does not
		if cols := typeChanges(f.Up); len(cols) > 0 && m.st.Dialect() == "postgres" {
			what = fmt.Sprintf(": the migration changes the type of %s, and a value cannot take the new type", strings.Join(cols, " or "))
		}
		return fmt.Errorf("%w%s: fix or clear the value %s; or change the spec, %s", err, what, withClient, replan)
	}
	return err
}

// withClient is how a user fixes rows a pending migration refuses.
const withClient = "with the database's own client (kiln serve refuses while a migration is pending), then run `kiln migrate up` again"

// nullRows counts the rows of table with no value in col ("every row" when the table has no
// such column yet: the migration adds it), or says "some rows" when the count fails.
func (m *Migrator) nullRows(ctx context.Context, table, col string) string {
	n, err := m.countRows(ctx, "SELECT count(*) FROM "+q(table)+" WHERE "+q(table)+"."+q(col)+" IS NULL") // qualified: SQLite takes an unknown "col" for a string
	if err != nil {
		if n, err = m.countRows(ctx, "SELECT count(*) FROM "+q(table)); err != nil {
			return "some rows"
		}
	}
	return fmt.Sprintf("%d row(s)", n)
}

func (m *Migrator) countRows(ctx context.Context, query string) (int64, error) {
	rows, err := m.st.Reader().QueryRaw(ctx, query)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if !rows.Next() {
		return 0, errors.New("no row")
	}
	return n, rows.Scan(&n)
}

// duplicate is ", e.g. code = X" for one value the columns repeat in table (among live rows
// when the new index is on those only), or "" when the query fails or finds none.
func (m *Migrator) duplicate(ctx context.Context, f File, table string, cols []string) string {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = q(c)
	}
	where := ""
	if liveIndex(f.Schema, table, cols) {
		where = " WHERE " + q(store.DeletedColumn) + " IS NULL"
	}
	list := strings.Join(quoted, ", ") // the index exists on its columns: unqualified names are safe
	rows, err := m.st.Reader().QueryRaw(ctx, "SELECT "+list+" FROM "+q(table)+where+" GROUP BY "+list+" HAVING count(*) > 1 LIMIT 1")
	if err != nil {
		return ""
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() || rows.Scan(ptrs...) != nil {
		return ""
	}
	parts := make([]string, len(cols))
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		parts[i] = fmt.Sprintf("%s = %v", cols[i], v)
	}
	return ", e.g. " + strings.Join(parts, ", ")
}

// liveIndex reports whether schema's unique index on table's cols covers live rows only.
func liveIndex(schema Schema, table string, cols []string) bool {
	for _, t := range schema.Tables {
		for _, ix := range t.Indexes {
			if t.Name == table && ix.Unique && ix.Live && strings.Join(ix.Columns, ",") == strings.Join(cols, ",") {
				return true
			}
		}
	}
	return false
}

var alterTypeRe = regexp.MustCompile(`ALTER TABLE "([^"]+)" ALTER COLUMN "([^"]+)" TYPE `)

// typeChanges lists the table[column]s whose type a PostgreSQL up file changes.
func typeChanges(up string) []string {
	var out []string
	for _, m := range alterTypeRe.FindAllStringSubmatch(up, -1) {
		out = append(out, m[1]+"["+m[2]+"]")
	}
	return out
}
