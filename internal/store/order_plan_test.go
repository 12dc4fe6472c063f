package store_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// fullSort matches a plan's Sort node (not an Incremental Sort over an index's order).
var fullSort = regexp.MustCompile(`(?m)(^|->  )Sort  \(`)

const potsSpec = `resources:
  pots:
    fields:
      price: {type: decimal, precision: 12, scale: 2, required: true}
      note: string
    indexes:
      - {fields: [price]}
      - {fields: [note]}
`

// On PostgreSQL a page sorted by an indexed NOT NULL column is read in index order, with no
// sort of every matching row: the ORDER BY carries no NULLS clause PostgreSQL's indexes cannot
// serve. A nullable column keeps NULLs first (the smallest value, as on SQLite).
func TestSortedPageOfARequiredColumnUsesItsIndex(t *testing.T) {
	t.Parallel()
	s, err := spec.Parse("pots.yaml", []byte(potsSpec), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: testdb.PostgresURL(t)}, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, migrate.New(migrate.Config{Dir: t.TempDir()}, st).Dev(ctx, migrate.FromSpec(s), false, nil))
	plan := func(sort query.Sort) string {
		text, args, err := st.Reader().ListSQL("pots", query.List{Where: query.Compare{Field: sort.Field, Op: query.Gt, Value: "1"}, Sort: []query.Sort{sort}, Limit: 20})
		require.NoError(t, err)
		var lines []string
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
			require.NoError(t, tx.ExecRaw(ctx, "SET LOCAL enable_sort = off"))
			rows, err := tx.QueryRaw(ctx, "EXPLAIN "+text, args...)
			require.NoError(t, err)
			defer rows.Close()
			for rows.Next() {
				var l string
				require.NoError(t, rows.Scan(&l))
				lines = append(lines, l)
			}
			return rows.Err()
		}))
		return strings.Join(lines, "\n")
	}
	for _, desc := range []bool{false, true} {
		p := plan(query.Sort{Field: "price", Desc: desc})
		require.Contains(t, p, "pots_price_idx", p)
		require.NotRegexp(t, fullSort, p, "the index gives the order (at most ties on id are sorted)")
	}
	p := plan(query.Sort{Field: "note"})
	require.Regexp(t, fullSort, p, "NULLS FIRST on a nullable column sorts every matching row")
}
