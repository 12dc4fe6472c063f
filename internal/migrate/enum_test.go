package migrate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/store"
)

func descriptions(p migrate.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, c.Description)
	}
	return out
}

// Narrowing an enum (a value removed, or text becoming an enum) is destructive and refused,
// naming table[column] and the value, while a row holds a value outside it, on both dialects;
// adding a value changes no row. Before, both were "no change" and rows were served outside
// the enum.
func TestMigrationsRefuseRowsOutsideANarrowedEnum(t *testing.T) {
	eachMigrationDialect(t, func(t *testing.T, dialect string) {
		text := specWith("      name: string\n      kind: string\n")
		abc := specWith("      name: string\n      kind: {type: enum, values: [a, b, c]}\n")
		ab := specWith("      name: string\n      kind: {type: enum, values: [a, b]}\n")
		w := newWalker(t, dialect, text)
		w.insertProduct(p1, ", kind", "a")
		w.insertProduct(p2, ", kind", "it's other")

		_, err := w.plan(abc, false)
		require.ErrorIs(t, err, migrate.ErrDestructive, "text -> enum narrows")
		_, err = w.plan(abc, true)
		require.NoError(t, err)
		_, err = w.m.Up(t.Context(), nil)
		require.ErrorIs(t, err, store.ErrInvalidValue)
		require.ErrorContains(t, err, `products[kind]: 'it''s other' is not one of the enum values a, b, c`)
		w.mustExec("UPDATE products SET kind = 'c' WHERE id = ?", p2)
		_, err = w.m.Up(t.Context(), nil)
		require.NoError(t, err, "applies once the rows fit")
		w.specs = append(w.specs, abc)

		p, err := w.plan(ab, false)
		require.ErrorIs(t, err, migrate.ErrDestructive)
		require.Equal(t, []string{"alter column products.kind: remove the enum values c (refused while a row holds one)"}, descriptions(p))
		_, err = w.plan(ab, true)
		require.NoError(t, err)
		_, err = w.m.Up(t.Context(), nil)
		require.ErrorIs(t, err, store.ErrInvalidValue)
		require.ErrorContains(t, err, "products[kind]: 'c' is not one of the enum values a, b")
		w.mustExec("UPDATE products SET kind = NULL WHERE id = ?", p2)
		w.reapply(ab)

		wider := w.up(abc, false)
		require.Equal(t, []string{"alter column products.kind: add the enum values c"}, descriptions(wider))
		require.Empty(t, wider.Up, "a value added changes no row")
		w.mustExec("UPDATE products SET kind = 'c' WHERE id = ?", p2)
		_, err = w.m.Down(t.Context())
		require.ErrorIs(t, err, store.ErrInvalidValue, "down narrows it again")
	})
}

// A schema written before enum values were recorded (its files, its applied rows) does not
// read as every enum being new.
func TestEnumsAreComparedOnlyWhenBothSchemasRecordThem(t *testing.T) {
	t.Parallel()
	schema := func(enums bool, values ...string) migrate.Schema {
		return migrate.Schema{Enums: enums, Tables: []migrate.Table{{Name: "t", PrimaryKey: []string{"id"},
			Columns: []migrate.Column{{Name: "id", Type: "uuid", NotNull: true}, {Name: "k", Type: "text", Enum: values}}}}}
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		require.True(t, migrate.Diff(schema(false), schema(true, "a"), dialect).Empty(), "an old file")
		require.True(t, migrate.Diff(schema(true, "a", "b"), schema(true, "b", "a"), dialect).Empty(), "the order is the spec's")
		require.NotEmpty(t, migrate.Diff(schema(true, "a", "b"), schema(true, "a"), dialect).Destructive())
	}
	decoded, err := migrate.DecodeSchema(schema(true, "a").Encode())
	require.NoError(t, err)
	require.Equal(t, schema(true, "a"), decoded)
}
