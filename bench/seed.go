package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

func priceCents(i int) int64 { return int64(i%10000) + 99 }

// seedKiln migrates a fresh database for the shop example (SQLite in cfg.DataDir, or
// cfg.DatabaseURL) and inserts rows products and a staff account; it returns the products'
// ids and the staff's access token. The server process then opens the same, up-to-date database.
func seedKiln(ctx context.Context, cfg kiln.Config, rows int) ([]string, string, error) {
	app, err := migrateAndOpen(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	defer app.Close()
	res := app.Spec.Resource("products")
	ids := make([]string, rows)
	now := time.Now().UTC()
	err = app.Store.InTx(ctx, func(tx *store.Exec) error {
		for i := range rows {
			vals := make([]any, len(res.Fields))
			for j, f := range res.Fields {
				switch f.Name {
				case "name":
					vals[j] = fmt.Sprintf("Product %05d", i)
				case "price":
					vals[j] = value.FromUnits(priceCents(i), 2)
				case "stock":
					vals[j] = int64(i % 50)
				case "active":
					vals[j] = true
				}
			}
			ids[i] = uuid.Must(uuid.NewV7()).String()
			if err := tx.Insert(ctx, "products", &store.Record{ID: ids[i], CreatedAt: now, UpdatedAt: now, Version: 1, Values: vals}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	staff, err := app.Service.Create(service.AsSystem(ctx), "users", map[string]any{"email": "bench@example.com", "role": "staff"}, service.WriteOpts{})
	if err != nil {
		return nil, "", err
	}
	pair, err := app.Accounts.StartSession(ctx, staff.ID)
	if err != nil {
		return nil, "", err
	}
	return ids, pair.AccessToken, nil
}

func kilnConfig(dir string) kiln.Config {
	return kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: filepath.Join(dir, "kiln"),
		MigrationsDir: "examples/shop/migrations", AuthSecret: benchSecret, LookupEnv: benchEnv}
}

// rateEnv sets the shop's rate limits very high: they stay on (each request is counted
// against its bucket) but never refuse one; the benchmark measures the engine, not the policy.
var rateEnv = []string{"KILN_RATE_ANONYMOUS=1000000000/s", "KILN_RATE_ACCOUNT=1000000000/s",
	"KILN_RATE_API_KEY=1000000000/s", "KILN_RATE_AUTH=1000000000/s"}

func benchEnv(k string) (string, bool) {
	for _, kv := range rateEnv {
		if name, v, _ := strings.Cut(kv, "="); name == k {
			return v, true
		}
	}
	return "", false
}

func migrateAndOpen(ctx context.Context, cfg kiln.Config) (*kiln.App, error) {
	s, err := kiln.LoadSpec(cfg.SpecPath, cfg.LookupEnv)
	if err != nil {
		return nil, err
	}
	st, m, err := kiln.OpenStore(ctx, cfg, s)
	if err != nil {
		return nil, err
	}
	if _, err := m.Up(ctx, nil); err != nil {
		return nil, err
	}
	_ = st.Close()
	return kiln.New(ctx, cfg)
}
