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

// One subscription, on hooked_notes; plain_notes matches none.
const webhookBenchSpec = `webhooks:
  - {name: sync, url: "http://127.0.0.1:9/hook", events: [hooked_notes.create], when: "new.qty > 0", secret_env: HOOK_SECRET}
webhooks_allow_hosts: [127.0.0.1]
resources:
  plain_notes:
    fields:
      title: {type: string, required: true}
      qty: integer
  hooked_notes:
    fields:
      title: {type: string, required: true}
      qty: integer
`

// BenchmarkWebhookCreate measures what webhooks add to a write: on plain_notes the read of
// the enabled subscriptions that every write does once webhooks: is declared; on
// hooked_notes also the condition, the message and the delivery job (workers are off).
// Compare with BenchmarkTriggerCreate/plain_notes, a write without webhooks.
func BenchmarkWebhookCreate(b *testing.B) {
	for _, dialect := range testdb.Dialects {
		b.Run(dialect, func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, "kiln.yaml")
			if err := os.WriteFile(path, []byte(webhookBenchSpec), 0o644); err != nil {
				b.Fatal(err)
			}
			cfg := kiln.Config{SpecPath: path, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"), Dev: true, LookupEnv: noEnv, NoWorkers: true}
			if dialect == "postgres" {
				cfg.DatabaseURL = testdb.PostgresURL(b)
			}
			ctx := context.Background()
			app, err := kiln.New(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer app.Close()
			for _, res := range []string{"plain_notes", "hooked_notes"} {
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
