package kiln_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

// A soft-deleted record restored while the purge of its resource runs stays: the purge
// deletes only records still deleted. On PostgreSQL its DELETE … WHERE id IN (SELECT …
// deleted before the cutoff) waited for the restore's row lock and then deleted the row the
// restore brought back: the outer statement re-checked only the id, and the id still matched
// the subquery's snapshot.
func TestRecordRestoredDuringAPurgeStays(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, shortLivedNotes)
		ctx := context.Background()
		for round := range 3 {
			id := b.create("notes", map[string]any{"text": "kept"})
			require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/notes/"+id, nil).status)
			restored := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- b.app.Store.InTx(ctx, func(tx *store.Exec) error {
					rec, err := tx.GetDeleted(ctx, "notes", id, nil)
					if err != nil {
						return err
					}
					if err := tx.Restore(ctx, "notes", rec); err != nil {
						return err
					}
					close(restored)
					time.Sleep(300 * time.Millisecond) // the restore commits while the purge waits for its row
					return nil
				})
			}()
			<-restored
			_, err := b.app.Service.Purge(ctx, time.Now().Add(time.Hour), 100)
			require.NoError(t, err)
			require.NoError(t, <-done)
			require.Equal(t, http.StatusOK, b.do("GET", "/api/notes/"+id, nil).status, "round %d: the restored record is gone", round)
		}
	})
}
