package kiln_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// counterSpec: a schedule (never due in the test) whose update increments a counter.
const counterSpec = `resources:
  counters:
    fields:
      n: {type: integer, default: 0}
schedules:
  - name: tick
    cron: "0 0 1 1 *"
    update: {resource: counters, filter: "n >= 0", set: {n: "record.n + 1"}}
`

// Runs of a schedule's update that overlap — two instances each running a tick, or a run
// retried while the first still runs — each add their increment: the update computes its
// values from the record read locked. On PostgreSQL the record was read without a lock, two
// runs both read n and both wrote n+1 (a counter one short of its completed ticks, seen in
// internal/scaleout after a leader was killed).
func TestOverlappingScheduleRunsEachApplyTheirUpdate(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, counterSpec)
		id := b.create("counters", map[string]any{})
		const runs = 16
		var wg sync.WaitGroup
		errs := make([]error, runs)
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rep, err := b.app.Service.UpdateRecords(context.Background(), "schedule.tick", []string{id}, time.Now())
				if err == nil && rep.Changed != 1 {
					t.Errorf("run %d: changed %d, refused %v", i, rep.Changed, rep.Refused)
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, json.Number("16"), b.do("GET", "/api/counters/"+id, nil).body["n"])
	})
}
