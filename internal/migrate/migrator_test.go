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

const specV1 = `resources:
  categories:
    fields:
      name: {type: string, required: true}
  products:
    fields:
      name: {type: string, required: true}
      price: {type: decimal, precision: 10, scale: 2}
      category: {type: relation, to: categories}
      tags: {type: relation, to: tags, many: true}
  tags:
    fields:
      name: string
`

// specV2 adds a field with a default and an index on it.
var specV2 = strings.NewReplacer(
	"      category: {type: relation, to: categories}\n", "      category: {type: relation, to: categories}\n      sku: {type: string, default: \"none\"}\n",
	"      tags: {type: relation, to: tags, many: true}\n", "      tags: {type: relation, to: tags, many: true}\n    indexes:\n      - fields: [sku]\n",
).Replace(specV1)

type testBundle struct {
	dir, url string
	dialect  string
}

func setup(t *testing.T, dialect string) *testBundle {
	b := &testBundle{dir: t.TempDir(), dialect: dialect}
	if dialect == "postgres" {
		b.url = testdb.PostgresURL(t)
	}
	return b
}

func (b *testBundle) open(t *testing.T, src string) (*store.Store, *migrate.Migrator, migrate.Schema) {
	s, err := spec.Parse("kiln.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	st, err := store.Open(context.Background(), store.Config{URL: b.url, SQLitePath: filepath.Join(b.dir, "kiln.db")}, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st, migrate.New(migrate.Config{Dir: filepath.Join(b.dir, "migrations")}, st), migrate.FromSpec(s)
}

func count(t *testing.T, st *store.Store, q string) int {
	rows, err := st.Reader().QueryRaw(context.Background(), q)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var n int
	require.NoError(t, rows.Scan(&n))
	return n
}

func TestUpDownUpKeepsData(t *testing.T) {
	t.Parallel()
	for _, dialect := range testdb.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, dialect)
			st, m, v1 := b.open(t, specV1)
			plan, err := m.Plan(v1)
			require.NoError(t, err)
			_, err = m.Write(plan, "init", false)
			require.NoError(t, err)
			_, err = m.Up(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
				if err := tx.ExecRaw(ctx, "INSERT INTO categories (id, created_at, updated_at, kiln_version, name) VALUES ('0192f0a0-0000-7000-8000-000000000001', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 1, 'c')"); err != nil {
					return err
				}
				return tx.ExecRaw(ctx, "INSERT INTO products (id, created_at, updated_at, kiln_version, name, category_id) VALUES ('0192f0a0-0000-7000-8000-000000000002', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 1, 'p', '0192f0a0-0000-7000-8000-000000000001')")
			}))
			require.NoError(t, st.Close())

			st, m, v2 := b.open(t, specV2)
			plan, err = m.Plan(v2)
			require.NoError(t, err)
			var descs []string
			for _, c := range plan.Changes {
				descs = append(descs, c.Description)
			}
			require.Contains(t, descs, "add column products.sku text")
			require.Contains(t, descs, "create index products_sku_idx on products(sku)")
			require.Empty(t, plan.Destructive())
			_, err = m.Write(plan, "add sku", false)
			require.NoError(t, err)
			for range 2 { // up, down, up
				_, err = m.Up(ctx, nil)
				require.NoError(t, err)
				require.Equal(t, 1, count(t, st, "SELECT COUNT(*) FROM products WHERE sku = 'none' AND category_id IS NOT NULL"))
				f, err := m.Down(ctx)
				require.NoError(t, err)
				require.Equal(t, 2, f.Version)
				require.Equal(t, 1, count(t, st, "SELECT COUNT(*) FROM products WHERE name = 'p'"))
			}
			_, err = m.Up(ctx, nil)
			require.NoError(t, err)
			check, err := m.Check(ctx, v2)
			require.NoError(t, err)
			require.True(t, check.Empty(), "%v", check.Changes)
		})
	}
}

func TestDestructiveNeedsPermission(t *testing.T) {
	t.Parallel()
	for _, dialect := range testdb.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, dialect)
			st, m, v2 := b.open(t, specV2)
			require.NoError(t, m.Dev(ctx, v2, false, nil))
			require.NoError(t, st.Close())
			_, m, v1 := b.open(t, specV1)
			plan, err := m.Plan(v1)
			require.NoError(t, err)
			require.NotEmpty(t, plan.Destructive())
			_, err = m.Write(plan, "drop sku", false)
			require.ErrorIs(t, err, migrate.ErrDestructive)
			require.ErrorContains(t, err, "drop column products.sku")
			_, err = m.Write(plan, "drop sku", true)
			require.NoError(t, err)
			_, err = m.Up(ctx, nil)
			require.NoError(t, err)
		})
	}
}

// Dev mode's refusal of a destructive change says what to run: serve has no --allow-destructive.
func TestDevSaysHowToApplyADestructiveChange(t *testing.T) {
	t.Parallel()
	for _, dialect := range testdb.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, dialect)
			st, m, v2 := b.open(t, specV2)
			require.NoError(t, m.Dev(ctx, v2, false, nil))
			require.NoError(t, st.Close())
			_, m, v1 := b.open(t, specV1)
			err := m.Dev(ctx, v1, false, nil)
			require.ErrorIs(t, err, migrate.ErrDestructive)
			require.ErrorContains(t, err, "drop column products.sku")
			require.ErrorContains(t, err, "`kiln migrate plan --allow-destructive`, apply with `kiln migrate up`")
			require.NotContains(t, err.Error(), "rerun")
		})
	}
}

func TestCheckReportsWhatDiffers(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	_, m, v1 := b.open(t, specV1)
	plan, err := m.Check(context.Background(), v1)
	require.NoError(t, err)
	require.False(t, plan.Empty())
	require.Equal(t, "create table categories", plan.Changes[0].Description)
}

// An index marked for one dialect exists only there: a schema recorded before the mark drops
// it on the other dialect, and the mark alone changes nothing where the index stays.
func TestDialectIndexExistsOnItsDialectOnly(t *testing.T) {
	t.Parallel()
	table := func(dialect string) migrate.Schema {
		return migrate.Schema{Tables: []migrate.Table{{Name: "log", PrimaryKey: []string{"id"},
			Columns: []migrate.Column{{Name: "id", Type: "serial", NotNull: true}, {Name: "at", Type: "integer", NotNull: true}},
			Indexes: []migrate.Index{{Name: "log_at_idx", Columns: []string{"at"}, Dialect: dialect}}}}}
	}
	before, marked := table(""), table("postgres")
	require.True(t, migrate.Diff(before, marked, "postgres").Empty())
	lite := migrate.Diff(before, marked, "sqlite")
	require.Len(t, lite.Changes, 1)
	require.Equal(t, "drop index log_at_idx", lite.Changes[0].Description)
	require.Equal(t, []string{`DROP INDEX "log_at_idx"`}, lite.Up)
	require.Equal(t, marked, lite.To, "the file records the mark")
	require.True(t, migrate.Diff(marked, marked, "sqlite").Empty())
	created := migrate.Diff(migrate.Schema{}, marked, "sqlite")
	require.NotContains(t, strings.Join(created.Up, "\n"), "log_at_idx")
	require.Contains(t, strings.Join(migrate.Diff(migrate.Schema{}, marked, "postgres").Up, "\n"), "log_at_idx")
}
