package migrate_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// walker applies specs one after another to one database and checks the schema the database
// reports after every up and down against what the spec needs.
type walker struct {
	t       *testing.T
	dialect string
	st      *store.Store
	m       *migrate.Migrator
	specs   []string // applied, newest last
}

func newWalker(t *testing.T, dialect, first string) *walker {
	return newWalkerOn(t, setup(t, dialect), first)
}

// newWalkerOn is newWalker on the database b names.
func newWalkerOn(t *testing.T, b *testBundle, first string) *walker {
	dialect := b.dialect
	s := parseSpec(t, first)
	st, err := store.Open(context.Background(), store.Config{URL: b.url, SQLitePath: filepath.Join(b.dir, "kiln.db")}, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	w := &walker{t: t, dialect: dialect, st: st, m: migrate.New(migrate.Config{Dir: filepath.Join(b.dir, "migrations")}, st)}
	w.up(first, false)
	return w
}

func parseSpec(t *testing.T, src string) *spec.Spec {
	s, err := spec.Parse("kiln.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return s
}

// plan writes the migration to src (destructive steps only when allowed) and returns it.
func (w *walker) plan(src string, allowDestructive bool) (migrate.Plan, error) {
	w.t.Helper()
	p, err := w.m.Plan(migrate.FromSpec(parseSpec(w.t, src)))
	require.NoError(w.t, err)
	_, err = w.m.Write(p, "step", allowDestructive)
	return p, err
}

// up plans src, applies it and checks the schema.
func (w *walker) up(src string, allowDestructive bool) migrate.Plan {
	w.t.Helper()
	p, err := w.plan(src, allowDestructive)
	require.NoError(w.t, err)
	_, err = w.m.Up(context.Background(), nil)
	require.NoError(w.t, err)
	w.specs = append(w.specs, src)
	w.check(src, "after up")
	return p
}

// down reverts the newest migration and checks the schema is the previous spec's again.
func (w *walker) down() {
	w.t.Helper()
	_, err := w.m.Down(context.Background())
	require.NoError(w.t, err)
	w.specs = w.specs[:len(w.specs)-1]
	w.check(w.specs[len(w.specs)-1], "after down")
}

// reapply applies the pending file again (after a down) and checks the schema.
func (w *walker) reapply(src string) {
	w.t.Helper()
	_, err := w.m.Up(context.Background(), nil)
	require.NoError(w.t, err)
	w.specs = append(w.specs, src)
	w.check(src, "after up again")
}

func (w *walker) check(src, when string) {
	w.t.Helper()
	require.Equal(w.t, expected(w.dialect, migrate.FromSpec(parseSpec(w.t, src))), inspect(w.t, w.st), "%s: the database's schema", when)
}

func (w *walker) exec(q string, args ...any) error {
	return w.st.InTx(context.Background(), func(tx *store.Exec) error { return tx.ExecRaw(context.Background(), q, args...) })
}

func (w *walker) mustExec(q string, args ...any) {
	w.t.Helper()
	require.NoError(w.t, w.exec(q, args...), q)
}

// columnOf is the database's view of one column.
func (w *walker) columnOf(tableName, col string) column {
	return inspect(w.t, w.st)[tableName].Columns[col]
}

const (
	catID = "0192f0a0-0000-7000-8000-0000000000c1"
	p1    = "0192f0a0-0000-7000-8000-0000000000a1"
	p2    = "0192f0a0-0000-7000-8000-0000000000a2"
	stamp = "2026-01-01T00:00:00.000000Z"
)

func (w *walker) insertProduct(id string, cols string, vals ...any) {
	w.t.Helper()
	q := `INSERT INTO products (id, created_at, updated_at, kiln_version` + cols + `) VALUES (?, ?, ?, 1` + strings.Repeat(", ?", len(vals)) + `)`
	w.mustExec(q, append([]any{id, stamp, stamp}, vals...)...)
}

// specWith is a two-resource spec whose products fields are given.
func specWith(productFields string) string {
	return `resources:
  categories:
    fields:
      name: {type: string, required: true}
  tags:
    fields:
      name: string
  products:
    fields:
` + productFields
}

func eachMigrationDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Parallel()
	for _, dialect := range testdb.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			fn(t, dialect)
		})
	}
}

// Column types change in place (PostgreSQL's ALTER ... USING) or by a rebuild (SQLite),
// values converted the same way on both: a wider decimal keeps every digit, an integer
// becomes a decimal (destructive: fewer integer digits); a narrower decimal and a decimal
// turned integer are destructive, refused unless allowed, and round half away from zero on
// both dialects.
func TestMigrationsChangeColumnTypes(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := specWith("      price: {type: decimal, precision: 10, scale: 2}\n      stock: integer\n")
		v2 := specWith("      price: {type: decimal, precision: 12, scale: 3}\n      stock: {type: decimal, precision: 10, scale: 2}\n")
		v3 := specWith("      price: {type: decimal, precision: 8, scale: 1}\n      stock: integer\n")
		w := newWalker(t, dialect, v1)
		units := func(v int64) any { // a decimal at scale 2 as the dialect stores it
			if dialect == "sqlite" {
				return v
			}
			return float64(v) / 100
		}
		w.insertProduct(p1, ", price, stock", units(1235), 7)
		w.insertProduct(p2, ", price, stock", units(-1265), -3)

		_, err := w.plan(v2, false)
		require.ErrorIs(t, err, migrate.ErrDestructive, "decimal(10,2) holds fewer integer digits than integer")
		plan := w.up(v2, true)
		require.Len(t, plan.Destructive(), 1, "%v", plan.Changes)
		require.Equal(t, physical(dialect, "decimal(12,3)"), w.columnOf("products", "price").Type)
		require.Equal(t, "12.350", decimalAt(t, w.st, "products", "price", p1, 3))
		require.Equal(t, "7.00", decimalAt(t, w.st, "products", "stock", p1, 2))
		w.down()
		require.Equal(t, "12.35", decimalAt(t, w.st, "products", "price", p1, 2))
		require.Equal(t, "-3", decimalAt(t, w.st, "products", "stock", p2, 0))
		w.reapply(v2)
		w.mustExec(`UPDATE products SET stock = ? WHERE id = ?`, units(250), p1) // 2.50

		_, err = w.plan(v3, false)
		require.ErrorIs(t, err, migrate.ErrDestructive)
		plan = w.up(v3, true)
		require.Len(t, plan.Destructive(), 2, "%v", plan.Changes)
		require.Equal(t, physical(dialect, "decimal(8,1)"), w.columnOf("products", "price").Type)
		require.Equal(t, physical(dialect, "integer"), w.columnOf("products", "stock").Type)
		require.Equal(t, "12.4", decimalAt(t, w.st, "products", "price", p1, 1), "12.350 rounds half away from zero")
		require.Equal(t, "-12.7", decimalAt(t, w.st, "products", "price", p2, 1), "-12.650 too")
		require.Equal(t, "3", decimalAt(t, w.st, "products", "stock", p1, 0), "2.50 becomes 3")
		w.down()
		require.Equal(t, "12.400", decimalAt(t, w.st, "products", "price", p1, 3), "what narrowing lost stays lost")
	})
}

// Nullability: making a field required fails while a row lacks it — the migration is rolled
// back whole — and passes once every row has it; down makes it optional again.
func TestMigrationsChangeNullability(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := specWith("      name: string\n      stock: {type: integer, default: 0}\n")
		v2 := specWith("      name: {type: string, required: true}\n      stock: {type: integer, required: true, default: 3}\n")
		w := newWalker(t, dialect, v1)
		w.insertProduct(p1, ", name", "kept")
		w.insertProduct(p2, ", name", nil)

		_, err := w.plan(v2, false)
		require.NoError(t, err)
		_, err = w.m.Up(context.Background(), nil)
		require.ErrorContains(t, err, "not_null constraint on products[name]", "a row has no name")
		w.check(v1, "after a failed up")
		pending, err := w.m.Pending(context.Background())
		require.NoError(t, err)
		require.Len(t, pending, 1, "the failed migration is still pending")

		w.mustExec(`UPDATE products SET name = 'named' WHERE id = ?`, p2)
		w.reapply(v2)
		require.True(t, w.columnOf("products", "name").NotNull)
		require.Error(t, w.exec(`UPDATE products SET name = NULL WHERE id = ?`, p1), "NOT NULL holds")
		w.down()
		require.False(t, w.columnOf("products", "name").NotNull)
		w.mustExec(`UPDATE products SET name = NULL WHERE id = ?`, p1)
		require.Equal(t, [][]any{{"named"}}, rowsOf(t, w.st, `SELECT name FROM products WHERE name IS NOT NULL`))
	})
}

// Foreign keys: adding a relation adds its column, constraint (SET NULL) and index; making it
// required turns the constraint RESTRICT; both act on deletes; down restores each.
func TestMigrationsChangeForeignKeys(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := specWith("      name: string\n")
		v2 := specWith("      name: string\n      category: {type: relation, to: categories}\n")
		v3 := specWith("      name: string\n      category: {type: relation, to: categories, required: true}\n")
		w := newWalker(t, dialect, v1)
		w.insertProduct(p1, ", name", "p")
		addCategory := func() {
			w.mustExec(`INSERT INTO categories (id, created_at, updated_at, kiln_version, name) VALUES (?, ?, ?, 1, 'c')`, catID, stamp, stamp)
		}
		addCategory()

		w.up(v2, false)
		require.Equal(t, foreignKey{Table: "categories", OnDelete: "SET NULL"}, inspect(t, w.st)["products"].ForeignKeys["category_id"])
		require.Error(t, w.exec(`UPDATE products SET category_id = ? WHERE id = ?`, p2, p1), "only existing categories")
		w.mustExec(`UPDATE products SET category_id = ? WHERE id = ?`, catID, p1)
		w.mustExec(`DELETE FROM categories WHERE id = ?`, catID)
		require.Equal(t, [][]any{{nil}}, rowsOf(t, w.st, `SELECT category_id FROM products`), "SET NULL")
		addCategory()
		w.mustExec(`UPDATE products SET category_id = ? WHERE id = ?`, catID, p1)

		w.up(v3, false)
		require.Equal(t, foreignKey{Table: "categories", OnDelete: "RESTRICT"}, inspect(t, w.st)["products"].ForeignKeys["category_id"])
		require.Error(t, w.exec(`DELETE FROM categories WHERE id = ?`, catID), "RESTRICT")
		w.down()
		require.Equal(t, "SET NULL", inspect(t, w.st)["products"].ForeignKeys["category_id"].OnDelete)
		w.down()
		require.NotContains(t, inspect(t, w.st)["products"].Columns, "category_id")
		require.Equal(t, [][]any{{"p"}}, rowsOf(t, w.st, `SELECT name FROM products`), "rows survive")
	})
}

// The down of a migration that created tables drops them, their indexes and join tables,
// and leaves the rest alone; up again recreates them.
func TestMigrationDownOfCreateTable(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := "resources:\n  categories:\n    fields:\n      name: {type: string, required: true, unique: true}\n"
		v2 := v1 + `  products:
    fields:
      sku: {type: string, unique: true}
      category: {type: relation, to: categories, required: true}
      tags: {type: relation, to: tags, many: true}
    indexes:
      - fields: [category, sku]
  tags:
    fields:
      name: string
`
		w := newWalker(t, dialect, v1)
		w.mustExec(`INSERT INTO categories (id, created_at, updated_at, kiln_version, name) VALUES (?, ?, ?, 1, 'c')`, catID, stamp, stamp)
		w.up(v2, false)
		got := inspect(t, w.st)
		require.Contains(t, got, "products_tags")
		require.Equal(t, foreignKey{Table: "categories", OnDelete: "RESTRICT"}, got["products"].ForeignKeys["category_id"])
		w.down()
		require.Equal(t, []string{"categories", "kiln_events", "kiln_idempotency"}, tableNames(t, w.st), "Kiln's own idempotency and events tables stay")
		require.Equal(t, [][]any{{"c"}}, rowsOf(t, w.st, `SELECT name FROM categories`))
		w.reapply(v2)
	})
}

// The down of a destructive migration brings back what it dropped — the column with its
// type, default and index, and the table — though not the values.
func TestMigrationDownOfADestructiveMigration(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := specWith("      name: string\n      sku: {type: string, unique: true}\n      stock: {type: integer, default: 5}\n")
		v2 := strings.Replace(specWith("      name: string\n"), "  tags:\n    fields:\n      name: string\n", "", 1)
		w := newWalker(t, dialect, v1)
		w.insertProduct(p1, ", name, sku, stock", "a", "A-1", 9)
		w.insertProduct(p2, ", name, sku, stock", "b", "B-2", 1)

		_, err := w.plan(v2, false)
		require.ErrorIs(t, err, migrate.ErrDestructive)
		plan := w.up(v2, true)
		require.Len(t, plan.Destructive(), 3, "%v", plan.Changes) // sku, stock, table tags
		require.NotContains(t, tableNames(t, w.st), "tags")
		w.down()
		require.Equal(t, [][]any{{"a", nil, int64(5)}, {"b", nil, int64(5)}},
			rowsOf(t, w.st, `SELECT name, sku, CAST(stock AS INTEGER) FROM products ORDER BY name`), "the columns are back, empty or at their default")
		w.mustExec(`UPDATE products SET sku = 'X' WHERE id = ?`, p1)
		require.Error(t, w.exec(`UPDATE products SET sku = 'X' WHERE id = ?`, p2), "the unique index is back")
	})
}

// soft_delete adds the deleted-at column and makes unique indexes partial over live rows, so
// a deleted record does not hold its unique values; turning it off again is destructive and
// removes the deleted records first rather than bringing them back to life.
func TestMigrationsSoftDelete(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		plain := specWith("      sku: {type: string, unique: true}\n")
		soft := strings.Replace(plain, "  products:\n", "  products:\n    soft_delete: true\n", 1)
		w := newWalker(t, dialect, plain)
		w.insertProduct(p1, ", sku", "A")
		plan := w.up(soft, false)
		require.Empty(t, plan.Destructive(), "%v", plan.Changes)
		insert := func(id, deleted string) error {
			var del any
			if deleted != "" {
				del = deleted
			}
			return w.exec(`INSERT INTO products (id, created_at, updated_at, kiln_version, sku, kiln_deleted_at) VALUES (?, ?, ?, 1, ?, ?)`,
				id, stamp, stamp, "A", del)
		}
		require.NoError(t, insert(p2, stamp), "a deleted row does not hold its unique value")
		require.Error(t, insert("0192f0a0-0000-7000-8000-0000000000a3", ""), "two live rows still cannot share it")

		_, err := w.plan(plain, false)
		require.ErrorIs(t, err, migrate.ErrDestructive, "turning soft_delete off removes the deleted records")
		plan = w.up(plain, true)
		require.Len(t, plan.Destructive(), 2, "%v", plan.Changes) // the column and the deleted records
		require.Equal(t, 1, count(t, w.st, "SELECT COUNT(*) FROM products"))
		require.Equal(t, 1, count(t, w.st, "SELECT COUNT(*) FROM products WHERE id = '"+p1+"'"))
	})
}

// Two tables that point at each other: PostgreSQL checks a reference when its table is
// created, so the one made first gets its foreign key once the other exists; the down drops
// both (together, on PostgreSQL, which refuses to drop either alone).
func TestMigrationOfTablesThatPointAtEachOther(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		v1 := "resources:\n  notes:\n    fields:\n      text: string\n"
		v2 := v1 + `  projects:
    fields:
      name: string
      main_task: {type: relation, to: tasks}
  tasks:
    fields:
      title: string
      project: {type: relation, to: projects}
`
		w := newWalker(t, dialect, v1)
		w.up(v2, false)
		got := inspect(t, w.st)
		require.Equal(t, "tasks", got["projects"].ForeignKeys["main_task_id"].Table)
		require.Equal(t, "projects", got["tasks"].ForeignKeys["project_id"].Table)
		w.down()
		require.NotContains(t, tableNames(t, w.st), "projects")
		require.NotContains(t, tableNames(t, w.st), "tasks")
		w.reapply(v2)
		// An existing table gains a relation to a new table that points back at it.
		v3 := v2 + `  labels:
    fields:
      note: {type: relation, to: notes}
`
		v4 := strings.Replace(v3, "      text: string\n", "      text: string\n      label: {type: relation, to: labels}\n", 1)
		w.up(v4, false) // labels is new, notes gains label: one migration
		require.Equal(t, "labels", inspect(t, w.st)["notes"].ForeignKeys["label_id"].Table)
		w.down()
		w.reapply(v4)
	})
}
