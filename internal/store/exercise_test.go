package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/internal/value"
)

const allTypes = `resources:
  owners:
    fields:
      name: string
  items:
    fields:
      s: {type: string, unique: true}
      t: text
      i: integer
      n: number
      d: {type: decimal, precision: 12, scale: 3}
      b: boolean
      dt: datetime
      day: date
      e: {type: enum, values: [a, b]}
      j: json
      u: uuid
      owner: {type: relation, to: owners, required: true}
      links: {type: relation, to: owners, many: true}
`

// field indexes in items.
const (
	fS = iota
	fT
	fI
	fN
	fD
	fB
	fDT
	fDay
	fE
	fJ
	fU
	fOwner
	fLinks
)

// Exercise states every store behaviour once; it runs on each dialect.
func Exercise(t *testing.T, open func(t *testing.T, s *spec.Spec) *store.Store) {
	s, err := spec.Parse("types.yaml", []byte(allTypes), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	ctx := context.Background()
	newStore := func(t *testing.T) (*store.Store, string) {
		st := open(t, s)
		require.NoError(t, migrate.New(migrate.Config{Dir: t.TempDir()}, st).Dev(ctx, migrate.FromSpec(s), false, nil))
		require.NoError(t, st.PrepareStatements(ctx))
		owner := newID()
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "owners", rec(owner, "o")) }))
		return st, owner
	}

	t.Run("RoundTripsEveryType", func(t *testing.T) {
		st, owner := newStore(t)
		when := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
		r := item(owner)
		r.Values = []any{"ü\"x", "long", int64(-9007199254740993), 1.5, value.FromUnits(-12345, 3), true, when,
			"2026-02-28", "b", `{"k":[1,2]}`, "0192f0a0-0000-7000-8000-0000000000aa", owner, []string{}}
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", r) }))
		got, err := st.Reader().Get(ctx, "items", r.ID, nil)
		require.NoError(t, err)
		require.Equal(t, "-12.345", got.Values[fD].(value.Decimal).String())
		require.True(t, when.Equal(got.Values[fDT].(time.Time)))
		require.JSONEq(t, `{"k":[1,2]}`, got.Values[fJ].(string))
		got.Values[fDT], got.Values[fJ], r.Values[fDT], r.Values[fJ] = nil, nil, nil, nil
		require.Equal(t, r.Values, got.Values)
		require.Equal(t, int64(1), got.Version)
	})

	// A read by id (on SQLite straight on the driver connection) gives what a list page (through
	// database/sql) gives, for every type, set and unset.
	t.Run("GetReadsAsListDoes", func(t *testing.T) {
		st, owner := newStore(t)
		full, empty := item(owner), item(owner)
		full.Values = []any{"s", "t", int64(7), 2.25, value.FromUnits(5, 3), false, time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
			"2026-03-04", "a", `[1]`, "0192f0a0-0000-7000-8000-0000000000bb", owner, []string{owner}}
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
			return errors.Join(tx.Insert(ctx, "items", full), tx.Insert(ctx, "items", empty))
		}))
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.SetLinks(ctx, "items", "links", full.ID, []string{owner}) }))
		page, err := st.Reader().List(ctx, "items", query.List{Limit: 10})
		require.NoError(t, err)
		require.Len(t, page.Records, 2)
		before := st.DirectReads()
		for _, want := range page.Records {
			got, err := st.Reader().Get(ctx, "items", want.ID, nil)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		_, err = st.Reader().Get(ctx, "items", newID(), nil)
		require.ErrorIs(t, err, store.ErrNotFound)
		if st.Dialect() == "sqlite" {
			require.Equal(t, before+3, st.DirectReads(), "each read by id ran on the driver connection")
		}
	})

	t.Run("MapsConstraintErrors", func(t *testing.T) {
		st, owner := newStore(t)
		a, b := item(owner), item(owner)
		a.Values[fS], b.Values[fS] = "same", "same"
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", a) }))
		err := st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", b) })
		var ce *store.ConstraintError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, store.ConstraintUnique, ce.Kind)
		require.Equal(t, []string{"s"}, ce.Columns)
		require.ErrorIs(t, err, store.ErrConflict)

		c := item(newID())
		err = st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", c) })
		require.ErrorAs(t, err, &ce)
		require.Equal(t, store.ConstraintForeignKey, ce.Kind)

		err = st.InTx(ctx, func(tx *store.Exec) error { return tx.Delete(ctx, "owners", owner, 0) })
		require.ErrorAs(t, err, &ce, "required relations restrict deletes")
		require.Equal(t, int64(1), mustCount(t, st, "items", nil), "a failed transaction leaves nothing behind")
	})

	// A record's insert and the statement after it in one round trip (PostgreSQL): both are
	// written, or neither, and the insert's failure is the error Insert gives.
	t.Run("InsertScanningWritesBothOrNeither", func(t *testing.T) {
		st, owner := newStore(t)
		a := item(owner)
		a.Values[fS] = "same"
		var got int64
		err := st.InTx(ctx, func(tx *store.Exec) error {
			if !tx.CanInsertScanning() {
				require.Equal(t, "sqlite", tx.Dialect())
				return tx.InsertScanning(ctx, "items", a, store.Fold{Then: "SELECT 1 FROM kiln_row", Dest: []any{&got}})
			}
			return tx.InsertScanning(ctx, "items", a, store.Fold{Then: "SELECT count(*) + ?::bigint FROM kiln_row", Args: []any{int64(41)}, Dest: []any{&got}})
		})
		if st.Dialect() == "sqlite" {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		require.Equal(t, int64(42), got)
		back, err := st.Reader().Get(ctx, "items", a.ID, nil)
		require.NoError(t, err)
		require.Equal(t, "same", back.Values[fS])

		b := item(owner)
		b.Values[fS] = "same"
		err = st.InTx(ctx, func(tx *store.Exec) error {
			return tx.InsertScanning(ctx, "items", b, store.Fold{Then: "INSERT INTO owners (id, created_at, updated_at, kiln_version, name) " +
				"SELECT ?, now(), now(), 1, 'x' FROM kiln_row RETURNING 1", Args: []any{newID()}, Dest: []any{&got}})
		})
		var ce *store.ConstraintError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, store.ConstraintUnique, ce.Kind)
		require.Equal(t, []string{"s"}, ce.Columns)
		require.Equal(t, "items", ce.Table)
		require.Equal(t, int64(1), mustCount(t, st, "owners", nil), "the statement after the failed insert wrote nothing")
		require.Equal(t, int64(1), mustCount(t, st, "items", nil))
	})

	exerciseAlone(t, newStore)
	exerciseGroups(t, newStore)
	exerciseReadGroups(t, newStore)
	exerciseUnique(t, open)

	t.Run("DeadlinesCancelStatementsAsTimeouts", func(t *testing.T) {
		st, _ := newStore(t)
		slow := slowCount(st.Dialect())
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := st.Reader().ExecRawCount(dctx, slow)
		require.ErrorIs(t, err, store.ErrTimeout)
		require.Less(t, time.Since(start), 5*time.Second, "the statement was cancelled, not waited for")
		require.NoError(t, st.Ping(ctx), "the store still serves")
	})

	// The store's own statements, on the reader and in a transaction: a deadline cancels them and
	// the transaction leaves nothing behind; a read by primary key, which runs with its context
	// hidden from database/sql (quietCtx), refuses an ended one before it starts.
	t.Run("DeadlinesCancelTheStoresOwnStatements", func(t *testing.T) {
		st, owner := newStore(t)
		slow := slowCount(st.Dialect())
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := st.Reader().QueryCount(dctx, slow)
		require.ErrorIs(t, err, store.ErrTimeout)
		require.Less(t, time.Since(start), 5*time.Second, "the read was cancelled, not waited for")

		r := item(owner)
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start = time.Now()
		err = st.InTx(tctx, func(tx *store.Exec) error {
			if err := tx.Insert(tctx, "items", r); err != nil {
				return err
			}
			_, err := tx.QueryCount(tctx, slow)
			return err
		})
		require.ErrorIs(t, err, store.ErrTimeout)
		require.Less(t, time.Since(start), 5*time.Second, "the write was cancelled, not waited for")
		_, err = st.Reader().Get(ctx, "items", r.ID, nil)
		require.ErrorIs(t, err, store.ErrNotFound, "the cancelled transaction rolled back")

		ended, cancel := context.WithCancel(ctx)
		cancel()
		_, err = st.Reader().Get(ended, "owners", owner, nil)
		require.ErrorIs(t, err, context.Canceled, "a read by primary key checks its context before it runs")
		err = st.InTx(ctx, func(tx *store.Exec) error {
			if err := tx.Insert(ctx, "items", r); err != nil {
				return err
			}
			return tx.ExecStatement(ended, "UPDATE items SET s = 'x'")
		})
		require.ErrorIs(t, err, context.Canceled, "%v", err)
		require.NoError(t, st.Ping(ctx), "the store still serves")
		n, err := st.Reader().QueryCount(ctx, "SELECT count(*) FROM items")
		require.NoError(t, err)
		require.Equal(t, int64(0), n, "nothing of either transaction stayed")
	})

	t.Run("UpdateFromSetsOnlyChangedColumns", func(t *testing.T) {
		st, owner := newStore(t)
		r := item(owner)
		r.Values[fS], r.Values[fT], r.Values[fI], r.Values[fB], r.Values[fJ] = "s1", "kept", int64(1), false, `{"a":1}`
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", r) }))
		cur, err := st.Reader().Get(ctx, "items", r.ID, nil)
		require.NoError(t, err)
		old := *cur
		old.Values = append([]any(nil), cur.Values...)
		// old claims t already holds the new text: t is not set, so the stored "kept" stays,
		// which shows the statement names only the columns that differ.
		old.Values[fT] = "claimed"
		next := *cur
		next.Values = append([]any(nil), cur.Values...)
		next.Values[fT], next.Values[fI], next.Values[fB], next.Values[fJ], next.Values[fE] = "claimed", int64(2), true, nil, "a"
		next.Values[fD] = value.FromUnits(2500, 3)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.UpdateFrom(ctx, "items", &next, &old, cur.Version) }))
		got, err := st.Reader().Get(ctx, "items", r.ID, nil)
		require.NoError(t, err)
		require.Equal(t, "kept", got.Values[fT])
		require.Equal(t, "s1", got.Values[fS])
		require.Equal(t, int64(2), got.Values[fI])
		require.Equal(t, true, got.Values[fB])
		require.Nil(t, got.Values[fJ])
		require.Equal(t, "a", got.Values[fE])
		require.Equal(t, "2.5", got.Values[fD].(value.Decimal).String())
		require.Equal(t, cur.Version+1, got.Version)
		// Nothing changed: only updated_at and the version move. A stale version is refused.
		same := *got
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.UpdateFrom(ctx, "items", &same, got, got.Version) }))
		err = st.InTx(ctx, func(tx *store.Exec) error { return tx.UpdateFrom(ctx, "items", &same, got, got.Version) })
		require.ErrorIs(t, err, store.ErrStale)
	})

	t.Run("VersionsGuardWrites", func(t *testing.T) {
		st, owner := newStore(t)
		r := item(owner)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", r) }))
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Update(ctx, "items", r, 1) }))
		require.Equal(t, int64(2), r.Version)
		err := st.InTx(ctx, func(tx *store.Exec) error { return tx.Update(ctx, "items", r, 1) })
		require.ErrorIs(t, err, store.ErrStale)
		err = st.InTx(ctx, func(tx *store.Exec) error { return tx.Delete(ctx, "items", r.ID, 1) })
		require.ErrorIs(t, err, store.ErrStale)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Delete(ctx, "items", r.ID, 2) }))
		err = st.InTx(ctx, func(tx *store.Exec) error { return tx.Delete(ctx, "items", r.ID, 0) })
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = st.Reader().Get(ctx, "items", r.ID, nil)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("FiltersAndKeysets", func(t *testing.T) {
		st, owner := newStore(t)
		texts := []any{"Apple", "apple pie", "banana", nil, "Pineapple"}
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
			for i, txt := range texts {
				r := item(owner)
				r.Values[fT], r.Values[fI] = txt, int64(i%2)
				if err := tx.Insert(ctx, "items", r); err != nil {
					return err
				}
			}
			return nil
		}))
		for name, tc := range map[string]struct {
			cond query.Cond
			want int64
		}{
			"PrefixIsCaseSensitive": {query.Match{Field: "t", Kind: query.Prefix, Text: "App"}, 1},
			"Suffix":                {query.Match{Field: "t", Kind: query.Suffix, Text: "apple"}, 1},
			"Contains":              {query.Match{Field: "t", Kind: query.Contains, Text: "an"}, 1},
			"IsNull":                {query.Compare{Field: "t", Op: query.Eq}, 1},
			"IsNotNull":             {query.Compare{Field: "t", Op: query.Ne}, 4},
			"In":                    {query.In{Field: "t", Values: []any{"banana", "Apple", "x"}}, 2},
			"Not":                   {query.Not{Cond: query.Compare{Field: "i", Op: query.Eq, Value: int64(0)}}, 2},
			// Two-valued like query.Eval: t == "banana" is false for the NULL row, so NOT keeps it.
			"NotKeepsNulls":        {query.Not{Cond: query.Compare{Field: "t", Op: query.Eq, Value: "banana"}}, 4},
			"NotOfMatchKeepsNulls": {query.Not{Cond: query.Match{Field: "t", Kind: query.Prefix, Text: "App"}}, 4},
			"NotOfInKeepsNulls":    {query.Not{Cond: query.In{Field: "t", Values: []any{"banana"}}}, 4},
			"EmptyOrIsFalse":       {query.Or{}, 0},
			"WildcardsAreLiteral":  {query.Match{Field: "t", Kind: query.Contains, Text: "%"}, 0},
		} {
			require.Equal(t, tc.want, mustCount(t, st, "items", tc.cond), name)
		}
		for _, desc := range []bool{false, true} {
			sorts := []query.Sort{{Field: "t", Desc: desc}}
			var seen []string
			var after []any
			for {
				res, err := st.Reader().List(ctx, "items", query.List{Sort: sorts, Limit: 2, After: after})
				require.NoError(t, err)
				for _, r := range res.Records {
					seen = append(seen, r.ID)
				}
				if !res.More {
					break
				}
				last := res.Records[len(res.Records)-1]
				after = []any{last.Values[fT], last.ID}
			}
			require.Len(t, seen, len(texts), "desc=%v: nulls included exactly once", desc)
			require.Len(t, uniq(seen), len(texts))
		}
	})

	t.Run("LinksKeepOrderAndInverseCaps", func(t *testing.T) {
		st, owner := newStore(t)
		o2, o3 := newID(), newID()
		r := item(owner)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
			for _, id := range []string{o2, o3} {
				if err := tx.Insert(ctx, "owners", rec(id, "x")); err != nil {
					return err
				}
			}
			if err := tx.Insert(ctx, "items", r); err != nil {
				return err
			}
			for i := 0; i < 5; i++ {
				if err := tx.Insert(ctx, "items", item(owner)); err != nil {
					return err
				}
			}
			return tx.SetLinks(ctx, "items", "links", r.ID, []string{o3, owner, o2})
		}))
		links, err := st.Reader().Links(ctx, "items", "links", []string{r.ID})
		require.NoError(t, err)
		require.Equal(t, []string{o3, owner, o2}, links[r.ID])
		capped, err := st.Reader().ByField(ctx, "items", "owner", []string{owner}, 3, nil)
		require.NoError(t, err)
		require.Len(t, capped, 3)
		found, err := st.Reader().ExistingIDs(ctx, "owners", []string{o2, newID()}, nil)
		require.NoError(t, err)
		require.Equal(t, map[string]bool{o2: true}, found)
	})

	// An expand reads the targets of a page's to-many links by id in one query: 100 records of
	// up to 1000 links each passed PostgreSQL's 65,535 parameters (and SQLite's 32,766), a 500.
	t.Run("ByFieldTakesMoreValuesThanAStatementHolds", func(t *testing.T) {
		st, owner := newStore(t)
		ids := make([]string, 0, 70001)
		for range 70000 {
			ids = append(ids, newID())
		}
		ids = append(ids, owner)
		found, err := st.Reader().ByField(ctx, "owners", "id", ids, 0, nil)
		require.NoError(t, err)
		require.Len(t, found, 1)
		require.Equal(t, owner, found[0].ID)
	})

	t.Run("ConcurrentWritersAllCommit", func(t *testing.T) {
		st, owner := newStore(t)
		var wg sync.WaitGroup
		errs := make(chan error, 80)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					errs <- st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", item(owner)) })
					_, err := st.Reader().List(ctx, "items", query.List{Limit: 5})
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, int64(40), mustCount(t, st, "items", nil))
	})
}

// slowCount is a query of one number that runs for seconds.
func slowCount(dialect string) string {
	if dialect == "postgres" {
		return "SELECT count(*) FROM pg_sleep(10)"
	}
	return "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c"
}

func TestStoreSQLite(t *testing.T) {
	t.Parallel()
	Exercise(t, func(t *testing.T, s *spec.Spec) *store.Store {
		st, err := store.Open(context.Background(), store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}, s)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

func TestStorePostgres(t *testing.T) {
	t.Parallel()
	Exercise(t, func(t *testing.T, s *spec.Spec) *store.Store {
		st, err := store.Open(context.Background(), store.Config{URL: testdb.PostgresURL(t)}, s)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

func TestOpenErrorsHideTheURL(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), store.Config{URL: "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=1"}, &spec.Spec{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func rec(id, name string) *store.Record {
	now := time.Now().UTC()
	return &store.Record{ID: id, CreatedAt: now, UpdatedAt: now, Version: 1, Values: []any{name}}
}

func item(owner string) *store.Record {
	r := rec(newID(), "")
	r.Values = make([]any, fLinks+1)
	r.Values[fOwner] = owner
	return r
}

func mustCount(t *testing.T, st *store.Store, res string, c query.Cond) int64 {
	n, err := st.Reader().Count(context.Background(), res, c)
	require.NoError(t, err)
	return n
}

func uniq(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}
