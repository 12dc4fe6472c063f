package kiln_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
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

// A Go job handler and a Go schedule handler read and write records through Job.Records and
// ScheduleRun.Records, on Kiln's own authority: the notes' access rules let only admins write
// (a job has no principal), yet the handlers' writes land, through the pipeline — the field
// rule still refuses a bad value (a new user's trial: a handler had no public way to touch a
// record, and App.Service needed a type outside the module could not name).
func TestGoHandlersWriteRecordsOnKilnsAuthority(t *testing.T) {
	t.Parallel()
	// txJobsSpec with two more fields, its trigger's handler summarize, and a schedule
	spec := strings.NewReplacer(
		"      title: string\n", "      title: string\n      summary: {type: string, max_length: 20}\n      swept: {type: boolean, default: false}\n",
		"{name: notify, on: [create], handler: notify}", "{name: summarize, on: [create], handler: summarize}",
	).Replace(txJobsSpec) + "schedules:\n  - {name: sweep, cron: \"* * * * * *\", handler: sweep}\n"
	refused := make(chan error, 1)
	x := &kiln.Extensions{}
	x.Job("summarize", func(ctx context.Context, job kiln.Job) error {
		_, err := job.Records.Update(ctx, "notes", job.RecordID, map[string]any{"summary": "a note that is far too long to keep"})
		select {
		case refused <- err:
		default:
		}
		_, err = job.Records.Update(ctx, "notes", job.RecordID, map[string]any{"summary": "about " + job.New["title"].(string)})
		return err
	})
	x.Scheduled("sweep", func(ctx context.Context, run kiln.ScheduleRun) error {
		page, err := run.Records.List(ctx, "notes", url.Values{"filter": {"swept == false"}})
		if err != nil {
			return err
		}
		for _, n := range page.Records {
			if _, err := run.Records.Update(ctx, "notes", n.ID, map[string]any{"swept": true}); err != nil {
				return err
			}
		}
		return nil
	})
	b := setupHooks(t, "sqlite", hookOpts{spec: spec, ext: x})
	res := b.do("POST", "/api/notes", map[string]any{"title": "plans"})
	require.Equal(t, http.StatusCreated, res.status, string(res.raw))
	id := res.body["id"].(string)
	require.Eventually(t, func() bool {
		n := b.do("GET", "/api/notes/"+id, nil).body
		return n["summary"] == "about plans" && n["swept"] == true
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "validation_failed", kiln.ErrorCode(<-refused), "the field rule still applies to a handler's write")
	require.Empty(t, kiln.ErrorCode(errors.New("mine")))
}
