package migrate_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
)

// upFails plans to from w's newest spec and returns the error of applying it.
func (w *walker) upFails(to string) error {
	w.t.Helper()
	_, err := w.plan(to, true)
	require.NoError(w.t, err)
	_, err = w.m.Up(context.Background(), nil)
	require.Error(w.t, err)
	return err
}

// deletePending deletes the pending files, as a user abandoning a refused migration does.
func (w *walker) deletePending() {
	w.t.Helper()
	pending, err := w.m.Pending(context.Background())
	require.NoError(w.t, err)
	for _, f := range pending {
		require.NoError(w.t, os.Remove(f.UpPath))
		require.NoError(w.t, os.Remove(f.DownPath))
	}
}

// A migration the rows refuse says what it means and how to proceed: how many rows lack a
// value a field now requires, one value a new unique index finds twice.
func TestFailedMigrationsSayWhichRowsBlockThem(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := specWith("      name: string\n      code: string\n")
		w := newWalker(t, dialect, v1)
		w.insertProduct(p1, ", name, code", "kept", "A")
		w.insertProduct(p2, ", name, code", nil, "A")

		err := w.upFails(specWith("      name: {type: string, required: true}\n      code: string\n"))
		require.ErrorContains(t, err, "not_null constraint on products[name]: 1 row(s) of products have no name, which the migration makes required: "+
			"give the field a `default` in the spec, delete 0002_step.up.sql and its down file and run `kiln migrate plan` again; "+
			"or fill those rows with the database's own client (kiln serve refuses while a migration is pending), then run `kiln migrate up` again")
		w.deletePending()

		err = w.upFails(specWith("      name: string\n      code: string\n      source: {type: string, required: true}\n"))
		require.ErrorContains(t, err, "2 row(s) of products have no source, which the migration makes required")
		w.deletePending()

		err = w.upFails(specWith("      name: string\n      code: {type: string, unique: true}\n"))
		require.ErrorContains(t, err, "rows of products repeat a value of code, e.g. code = A, which the migration makes unique: "+
			"remove the duplicates with the database's own client (kiln serve refuses while a migration is pending), then run `kiln migrate up` again; "+
			"or drop the unique index from the spec, delete 0002_step.up.sql and its down file and run `kiln migrate plan` again")
		w.deletePending()

		w.mustExec(`UPDATE products SET code = '+1 (555) 0000' WHERE id = ?`, p2)
		err = w.upFails(specWith("      name: string\n      code: integer\n"))
		require.ErrorContains(t, err, "products[code]")
		require.ErrorContains(t, err, "fix or clear the value with the database's own client")
	})
}

// plan warns of the changes existing rows can refuse, as it does of a required field added
// without a default.
func TestPlanWarnsOfChangesRowsCanRefuse(t *testing.T) {
	v1 := migrate.FromSpec(parseSpec(t, specWith("      name: string\n      code: string\n")))
	v2 := migrate.FromSpec(parseSpec(t, specWith("      name: {type: string, required: true}\n      code: {type: string, unique: true}\n")))
	changes := strings.Join(descriptions(migrate.Diff(v1, v2, "sqlite")), "\n")
	require.Contains(t, changes, "alter column products.name: required false -> true (now required: fails if a row has no value)")
	require.Regexp(t, `create unique index \S+ on products\(code\) \(fails if existing rows repeat a value\)`, changes)
}
