package kiln_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

const txJobsSpec = `roles: [admin]
auth:
  account: members
  admin_roles: [admin]
resources:
  members:
    fields:
      name: string
  notes:
    fields:
      title: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
    triggers:
      - {name: notify, on: [create], handler: notify}
`

// The way a Go program gets a job with its write (docs/jobs.md): a trigger with handler:, fired
// by a write through call.Records.Tx, is staged in that transaction — a committed one runs
// its job, a rolled-back one has none.
func TestRecordsTxWritesFireTheirTriggersJobs(t *testing.T) {
	t.Parallel()
	var ran atomic.Int64
	x := &kiln.Extensions{}
	x.Job("notify", func(context.Context, kiln.Job) error { ran.Add(1); return nil })
	x.Handle("POST /api/two-notes", func(w http.ResponseWriter, r *http.Request, call kiln.RouteCall) {
		err := call.Records.Tx(r.Context(), func(ctx context.Context, tx *kiln.Tx) error {
			if _, err := tx.Create(ctx, "notes", map[string]any{"title": "a"}); err != nil {
				return err
			}
			if r.URL.Query().Has("fail") {
				return errors.New("rolled back")
			}
			return nil
		})
		if err != nil {
			call.Error(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	b := setupHooks(t, "sqlite", hookOpts{spec: txJobsSpec, ext: x})
	require.Equal(t, http.StatusInternalServerError, b.do("POST", "/api/two-notes?fail=1", nil).status)
	require.Equal(t, http.StatusNoContent, b.do("POST", "/api/two-notes", nil).status)
	require.Eventually(t, func() bool { return ran.Load() == 1 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, int64(1), ran.Load(), "the rolled-back write has no job")
}
