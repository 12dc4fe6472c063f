package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

const lending = `resources:
  loans:
    soft_delete: true
    fields:
      member: string
    indexes:
      - fields: [member]
  notes:
    fields:
      loan: {type: relation, to: loans}
      text: string
`

// A condition on the record a relation points at (record.loan.member == X) is an IN subquery
// that the related table's index serves, and the outer table is searched by the relation's
// index; a soft-deleted loan meets nothing.
func TestRelConditionUsesIndexes(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := spec.Parse("lending.yaml", []byte(lending), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
			require.NoError(t, err)
			cfg := store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}
			if d == "postgres" {
				cfg = store.Config{URL: testdb.PostgresURL(t)}
			}
			st, err := store.Open(ctx, cfg, s)
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			require.NoError(t, migrate.New(migrate.Config{Dir: t.TempDir()}, st).Dev(ctx, migrate.FromSpec(s), false, nil))
			loans, notes := []string{newID(), newID()}, []string{newID(), newID()}
			require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
				for i, id := range loans {
					l := rec(id, "")
					l.Values = []any{[]string{"ann", "bob"}[i]}
					if err := tx.Insert(ctx, "loans", l); err != nil {
						return err
					}
					n := rec(notes[i], "")
					n.Values = []any{id, "x"}
					if err := tx.Insert(ctx, "notes", n); err != nil {
						return err
					}
				}
				return nil
			}))
			ann := query.Rel{Field: "loan", Cond: query.Compare{Field: "member", Op: query.Eq, Value: "ann"}}
			res, err := st.Reader().List(ctx, "notes", query.List{Where: ann, Limit: 10})
			require.NoError(t, err)
			require.Len(t, res.Records, 1)
			require.Equal(t, notes[0], res.Records[0].ID)
			n, err := st.Reader().Count(ctx, "notes", query.Not{Cond: ann})
			require.NoError(t, err)
			require.EqualValues(t, 1, n)

			var plan []string
			require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
				if d == "postgres" {
					if err := tx.ExecRaw(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
						return err
					}
				}
				plan, err = tx.ExplainList(ctx, "notes", query.List{Where: ann, Limit: 20})
				return err
			}))
			text := strings.Join(plan, "\n")
			if d == "sqlite" {
				require.Regexp(t, `SEARCH loans USING (COVERING )?INDEX \S+ \(member=\?`, text)
				require.Regexp(t, `SEARCH notes USING INDEX \S+ \(loan_id=\?`, text)
			} else {
				require.Contains(t, text, "Index Cond: (member = 'ann'::text)")
				require.Contains(t, text, "Index Cond: (loan_id = loans.id)")
				require.NotContains(t, text, "Seq Scan")
			}

			require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Delete(ctx, "loans", loans[0], 0) }))
			res, err = st.Reader().List(ctx, "notes", query.List{Where: ann, Limit: 10})
			require.NoError(t, err)
			require.Empty(t, res.Records, "a soft-deleted loan meets no condition")
		})
	}
}
