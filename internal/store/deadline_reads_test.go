package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// Reads whose deadline ends at any point — waiting for a connection, in the first step,
// between rows, between a row and its Scan (database/sql closes the rows under it) — fail
// with ErrTimeout (or the cancel), never another error, in and outside transactions, and the
// pools serve whole records afterwards. Sixteen readers on two connections, deadlines of
// 0–50µs: which point each read is cut at is up to the scheduler, so every point is reached
// in a run (before scanEach interpreted its Scan errors, 1 to 21 reads per run failed with
// "scan items: context deadline exceeded"; on PostgreSQL, before InTx mapped it, about one
// run in four failed with database/sql's "transaction has already been committed or rolled
// back", met by a statement after database/sql rolled the transaction back for its context).
func TestReadsCutShortByTheirDeadlineAreTimeouts(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			cfg := store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db"), MaxReaders: 2}
			if dialect == "postgres" {
				cfg = store.Config{URL: testdb.PostgresURL(t), MaxReaders: 4}
			}
			st, ids := deadlineStore(t, cfg)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 16 {
				wg.Go(func() { errs <- cutReads(st, ids, g) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			page, err := st.Reader().List(context.Background(), "items", query.List{Limit: 100})
			require.NoError(t, err)
			require.Len(t, page.Records, len(ids))
		})
	}
}

func deadlineStore(t *testing.T, cfg store.Config) (*store.Store, []string) {
	ctx := context.Background()
	st, owner := openTypes(t, cfg)
	var ids []string
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		for i := range 40 {
			r := item(owner)
			r.Values[fS], r.Values[fI] = fmt.Sprintf("s-%03d", i), int64(i)
			ids = append(ids, r.ID)
			if err := tx.Insert(ctx, "items", r); err != nil {
				return err
			}
		}
		return nil
	}))
	return st, ids
}

// cutReads runs reads by id, list pages and list pages in a transaction with deadlines of
// 0–50µs, some cancelled at once; the first error other than a timeout or the cancel is its
// answer.
func cutReads(st *store.Store, ids []string, g int) error {
	for i := range 150 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration((g*7+i)%50)*time.Microsecond)
		if i%7 == 0 {
			go cancel()
		}
		var err error
		switch i % 3 {
		case 0:
			_, err = st.Reader().Get(ctx, "items", ids[(g+i)%len(ids)], nil)
		case 1:
			_, err = st.Reader().List(ctx, "items", query.List{Limit: 15, Offset: i % 30})
		default:
			err = st.InTx(ctx, func(tx *store.Exec) error {
				_, err := tx.List(ctx, "items", query.List{Limit: 15, Offset: i % 30})
				return err
			})
		}
		cancel()
		if err != nil && !errors.Is(err, store.ErrTimeout) && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("read %d of reader %d: %w", i, g, err)
		}
	}
	return nil
}
