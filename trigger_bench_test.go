package kiln_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

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
			for _, res := range []string{"plain_notes", "watched_notes"} {
				b.Run(res, func(b *testing.B) {
					for b.Loop() {
						in := map[string]any{"title": "a note", "qty": json.Number("2")}
						if _, err := app.Service.Create(ctx, res, in, service.WriteOpts{}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
