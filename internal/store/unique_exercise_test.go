package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// seats has two unique fields and a unique index over two fields; deleted seats free
// their values.
const uniqueSpec = `resources:
  owners:
    fields:
      name: string
  seats:
    soft_delete: true
    fields:
      code: {type: string, unique: true}
      label: {type: string, unique: true}
      owner: {type: relation, to: owners}
      num: integer
    indexes:
      - {fields: [owner, num], unique: true}
`

// exerciseUnique is Exercise's part on unique clashes: a write that clashes names the same
// columns on every dialect — every unique index it clashes with, in the spec's order — though
// the database reports only the first index it checks, and SQLite and PostgreSQL check them
// in different orders.
func exerciseUnique(t *testing.T, open func(t *testing.T, s *spec.Spec) *store.Store) {
	s, err := spec.Parse("unique.yaml", []byte(uniqueSpec), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	ctx := context.Background()
	type testBundle struct {
		st    *store.Store
		owner string
		first *store.Record // code a, label A, owner's seat 1
	}
	setup := func(t *testing.T) *testBundle {
		st := open(t, s)
		require.NoError(t, migrate.New(migrate.Config{Dir: t.TempDir()}, st).Dev(ctx, migrate.FromSpec(s), false, nil))
		b := &testBundle{st: st, owner: newID()}
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "owners", rec(b.owner, "o")) }))
		b.first = seat("a", "A", b.owner, 1)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "seats", b.first) }))
		return b
	}
	clash := func(t *testing.T, err error) []string {
		t.Helper()
		var ce *store.ConstraintError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, store.ConstraintUnique, ce.Kind)
		require.Equal(t, "seats", ce.Table)
		return ce.Columns
	}
	insert := func(b *testBundle, r *store.Record) error {
		return b.st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "seats", r) })
	}

	t.Run("UniqueClashNamesOneColumn", func(t *testing.T) {
		b := setup(t)
		require.Equal(t, []string{"code"}, clash(t, insert(b, seat("a", "B", nil, nil))))
	})
	t.Run("UniqueClashNamesACompositeIndex", func(t *testing.T) {
		b := setup(t)
		require.Equal(t, []string{"owner_id", "num"}, clash(t, insert(b, seat("b", "B", b.owner, 1))))
	})
	t.Run("UniqueClashNamesEveryIndexInSpecOrder", func(t *testing.T) {
		b := setup(t)
		require.Equal(t, []string{"code", "label"}, clash(t, insert(b, seat("a", "A", nil, nil))))
		require.Equal(t, []string{"label", "owner_id", "num"}, clash(t, insert(b, seat("b", "A", b.owner, 1))))
		require.Equal(t, []string{"code", "label", "owner_id", "num"}, clash(t, insert(b, seat("a", "A", b.owner, 1))))
	})
	t.Run("UniqueClashOfAnUpdate", func(t *testing.T) {
		b := setup(t)
		second := seat("b", "B", b.owner, 2)
		require.NoError(t, insert(b, second))
		second.Values = []any{"a", "A", b.owner, int64(2)}
		err := b.st.InTx(ctx, func(tx *store.Exec) error { return tx.Update(ctx, "seats", second, 0) })
		require.Equal(t, []string{"code", "label"}, clash(t, err), "the record itself is no clash")
	})
	t.Run("UniqueClashWithinTheTransactionIsTheDatabases", func(t *testing.T) {
		b := setup(t)
		err := b.st.InTx(ctx, func(tx *store.Exec) error {
			require.NoError(t, tx.Insert(ctx, "seats", seat("c", "C", nil, nil)))
			return tx.Insert(ctx, "seats", seat("c", "D", nil, nil))
		})
		require.Equal(t, []string{"code"}, clash(t, err), "no committed row clashes: the index the database named")
	})
	t.Run("DeletedRecordsClashWithNone", func(t *testing.T) {
		b := setup(t)
		require.NoError(t, b.st.InTx(ctx, func(tx *store.Exec) error { return tx.Delete(ctx, "seats", b.first.ID, 0) }))
		again := seat("a", "A", b.owner, 1)
		require.NoError(t, insert(b, again))
		err := b.st.InTx(ctx, func(tx *store.Exec) error { return tx.Restore(ctx, "seats", b.first) })
		require.Equal(t, []string{"code", "label", "owner_id", "num"}, clash(t, err), "restored, it would clash with every index")
	})
}

func seat(code, label string, owner, num any) *store.Record {
	r := rec(newID(), "")
	r.Values = []any{code, label, owner, num}
	if n, ok := num.(int); ok {
		r.Values[3] = int64(n)
	}
	return r
}
