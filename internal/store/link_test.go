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

// tagged is an N:M relation with its inverse: products carry tags, tags list their products.
const tagged = `resources:
  tags:
    fields:
      name: string
      products: {type: relation, to: products, inverse: tags}
  products:
    fields:
      name: string
      tags: {type: relation, to: tags, many: true}
`

type linkBundle struct {
	st   *store.Store
	tags []string // a, b, c
	prod []string // p0 {a, b}, p1 {b}, p2 {}, p3 {a}
}

func setupLinks(t *testing.T, dialect string) *linkBundle {
	t.Helper()
	ctx := context.Background()
	s, err := spec.Parse("tagged.yaml", []byte(tagged), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	cfg := store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}
	if dialect == "postgres" {
		cfg = store.Config{URL: testdb.PostgresURL(t)}
	}
	st, err := store.Open(ctx, cfg, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, migrate.New(migrate.Config{Dir: t.TempDir()}, st).Dev(ctx, migrate.FromSpec(s), false, nil))
	b := &linkBundle{st: st, tags: []string{newID(), newID(), newID()}, prod: []string{newID(), newID(), newID(), newID()}}
	a, bb := b.tags[0], b.tags[1]
	links := [][]string{{a, bb}, {bb}, {}, {a}}
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		for _, id := range b.tags {
			if err := tx.Insert(ctx, "tags", rec(id, "t")); err != nil {
				return err
			}
		}
		for i, id := range b.prod {
			r := rec(id, "p")
			r.Values = []any{"p", []string{}}
			if err := tx.Insert(ctx, "products", r); err != nil {
				return err
			}
			if err := tx.SetLinks(ctx, "products", "tags", id, links[i]); err != nil {
				return err
			}
		}
		return nil
	}))
	return b
}

func (b *linkBundle) ids(t *testing.T, resource string, c query.Cond) []string {
	t.Helper()
	res, err := b.st.Reader().List(context.Background(), resource, query.List{Where: c, Limit: 50})
	require.NoError(t, err)
	out := []string{}
	for _, r := range res.Records {
		out = append(out, r.ID)
	}
	return out
}

func TestMembershipFiltersOnBothDialects(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			b := setupLinks(t, d)
			a, bb, c := b.tags[0], b.tags[1], b.tags[2]
			p := b.prod
			require.Equal(t, []string{p[0], p[3]}, b.ids(t, "products", query.Has{Field: "tags", ID: a}))
			require.Equal(t, []string{p[0], p[1]}, b.ids(t, "products", query.Has{Field: "tags", ID: bb}))
			require.Equal(t, []string{}, b.ids(t, "products", query.Has{Field: "tags", ID: c}))
			require.Equal(t, []string{p[1], p[2]}, b.ids(t, "products", query.Not{Cond: query.Has{Field: "tags", ID: a}}))
			require.Equal(t, []string{p[0]}, b.ids(t, "products", query.And{query.Has{Field: "tags", ID: a}, query.Has{Field: "tags", ID: bb}}))
			// The inverse reads the same link table from the other end.
			require.Equal(t, []string{a, bb}, b.ids(t, "tags", query.Has{Field: "products", ID: p[0]}))
			require.Equal(t, []string{}, b.ids(t, "tags", query.Has{Field: "products", ID: p[2]}))

			linked, err := b.st.Reader().Linked(context.Background(), "tags", "products", []string{a, bb, c}, 1)
			require.NoError(t, err)
			require.Equal(t, map[string][]string{a: {p[0]}, bb: {p[0]}}, linked, "at most one per tag, in id order")
			linked, err = b.st.Reader().Linked(context.Background(), "tags", "products", []string{a}, 0)
			require.NoError(t, err)
			require.Equal(t, []string{p[0], p[3]}, linked[a])
		})
	}
}

// Membership is an EXISTS on the link table that one of its indexes serves: the primary key
// (source_id, target_id) or the target_id index; the link table is never scanned.
func TestMembershipUsesTheLinkTableIndex(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			b := setupLinks(t, d)
			ctx := context.Background()
			for _, tc := range []struct{ resource, field, id string }{
				{resource: "products", field: "tags", id: b.tags[0]},
				{resource: "tags", field: "products", id: b.prod[0]},
			} {
				var plan []string
				require.NoError(t, b.st.InTx(ctx, func(tx *store.Exec) error {
					if d == "postgres" { // four rows: without this the planner rightly prefers a scan
						if err := tx.ExecRaw(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
							return err
						}
					}
					var err error
					plan, err = tx.ExplainList(ctx, tc.resource, query.List{Where: query.Has{Field: tc.field, ID: tc.id}, Limit: 20})
					return err
				}))
				text := strings.Join(plan, "\n")
				// The plan also reads the link table for the records' own tag lists (by
				// source_id only); the membership lookup is the one constrained by both ends.
				switch d {
				case "sqlite":
					require.Regexp(t, `SEARCH products_tags (EXISTS )?USING (COVERING )?INDEX \S+ \([^)]*target_id=\?`, text)
					require.NotContains(t, text, "SCAN products_tags")
				default:
					require.Regexp(t, `Index Cond: \([^\n]*(target_id|source_id) = '`+tc.id+`'::uuid`, text)
					require.NotContains(t, text, "Seq Scan on products_tags")
				}
			}
		})
	}
}
