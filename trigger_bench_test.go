package kiln_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// Two resources with the same fields: plain_notes, and watched_notes whose create trigger
// enqueues a job (its condition holds for every record).
const triggerBenchSpec = `resources:
  plain_notes:
    fields:
      title: {type: string, required: true}
      qty: integer
  watched_notes:
    fields:
      title: {type: string, required: true}
      qty: integer
    triggers:
      - {name: sync, on: [create], when: "new.qty > 0", handler: sync}
`

// BenchmarkTriggerCreate measures what a trigger adds to a write: the condition, the job
// insert in the write's transaction (workers are off, so only the write path is timed).
// docs/performance.md reports the ratio.
func BenchmarkTriggerCreate(b *testing.B) {
	for _, dialect := range testdb.Dialects {
		b.Run(dialect, func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, "kiln.yaml")
			if err := os.WriteFile(path, []byte(triggerBenchSpec), 0o644); err != nil {
				b.Fatal(err)
			}
			x := &kiln.Extensions{}
			x.Job("sync", func(context.Context, kiln.Job) error { return nil })
			cfg := kiln.Config{SpecPath: path, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"), Dev: true, LookupEnv: noEnv,
				Extensions: x, NoWorkers: true}
			if dialect == "postgres" {
				cfg.DatabaseURL = testdb.PostgresURL(b)
			}
			ctx := context.Background()
			app, err := kiln.New(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer app.Close()
			// The two creates alternate, so load from elsewhere on the machine weighs on both
			// alike; the ratio is what docs/performance.md reports.
			var spent [2]time.Duration
			names := [2]string{"plain_notes", "watched_notes"}
			n := 0
			for b.Loop() {
				for i, res := range names {
					in := map[string]any{"title": "a note", "qty": json.Number("2")}
					start := time.Now()
					if _, err := app.Service.Create(ctx, res, in, service.WriteOpts{}); err != nil {
						b.Fatal(err)
					}
					spent[i] += time.Since(start)
				}
				n++
			}
			b.ReportMetric(float64(spent[0].Nanoseconds())/float64(n), "plain-ns/op")
			b.ReportMetric(float64(spent[1].Nanoseconds())/float64(n), "trigger-ns/op")
			b.ReportMetric(float64(spent[1])/float64(spent[0]), "ratio")
		})
	}
}
