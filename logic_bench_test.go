package kiln_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/service"
)

// Two resources with the same fields: lines without logic, and checked_lines with a
// cross-record rule (the parent is open), a computed field and a rollup onto the parent.
const logicBenchSpec = `resources:
  baskets:
    fields:
      open: {type: boolean, default: true}
      total: {type: integer, default: "0", rollup: {sum: qty, of: checked}}
      lines: {type: relation, to: lines, inverse: basket}
      checked: {type: relation, to: checked_lines, inverse: basket}
  lines:
    fields:
      basket: {type: relation, to: baskets, required: true}
      qty: {type: integer, required: true, min: 1}
      double: integer
  checked_lines:
    fields:
      basket: {type: relation, to: baskets, required: true}
      qty: {type: integer, required: true, min: 1}
      double: {type: integer, compute: "record.qty * 2"}
    rules:
      - name: basket_open
        check: "get('baskets', record.basket).open"
        code: basket_closed
        conflict: true
`

// BenchmarkLogicCreate compares a plain create with one that runs a cross-record rule, a
// computed field and a rollup, in the same run (docs/performance.md reports the ratio).
func BenchmarkLogicCreate(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	if err := os.WriteFile(path, []byte(logicBenchSpec), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	app, err := kiln.New(ctx, kiln.Config{SpecPath: path, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"), Dev: true, LookupEnv: noEnv})
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	baskets := make([]string, 500) // ten lines a basket on average, as orders have
	for i := range baskets {
		rec, err := app.Service.Create(ctx, "baskets", map[string]any{}, service.WriteOpts{})
		if err != nil {
			b.Fatal(err)
		}
		baskets[i] = rec.ID
	}
	for _, res := range []string{"lines", "checked_lines"} {
		b.Run(res, func(b *testing.B) {
			i := 0
			for b.Loop() {
				in := map[string]any{"basket": baskets[i%len(baskets)], "qty": json.Number("2")}
				i++
				if _, err := app.Service.Create(ctx, res, in, service.WriteOpts{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
