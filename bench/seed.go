package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/uuid"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

func priceCents(i int) int64 { return int64(i%10000) + 99 }

func seedBaseline(b *baseline, rows int) ([]string, error) {
	tx, err := b.writer.Begin()
	if err != nil {
		return nil, err
	}
	ids := make([]string, rows)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	for i := range rows {
		ids[i] = uuid.Must(uuid.NewV7()).String()
		if _, err := tx.Stmt(b.insert).Exec(ids[i], now, now, fmt.Sprintf("Product %05d", i), nil, priceCents(i), nil, i%50, true, nil); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	return ids, tx.Commit()
}

// startKiln runs the shop example on a fresh SQLite file with rows products.
func startKiln(ctx context.Context, dir string, rows int) (http.Handler, []string, string, func(), error) {
	app, err := kiln.New(ctx, kilnConfig(dir))
	if err != nil {
		// A fresh database is behind the spec until the committed migrations are applied.
		app, err = migrateAndOpen(ctx, dir)
		if err != nil {
			return nil, nil, "", nil, err
		}
	}
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
		return nil, nil, "", nil, err
	}
	staff, err := app.Service.Create(service.AsSystem(ctx), "users", map[string]any{"email": "bench@example.com", "role": "staff"}, service.WriteOpts{})
	if err != nil {
		return nil, nil, "", nil, err
	}
	pair, err := app.Accounts.StartSession(ctx, staff.ID)
	if err != nil {
		return nil, nil, "", nil, err
	}
	return app.Handler(), ids, pair.AccessToken, func() { _ = app.Close() }, nil
}

func kilnConfig(dir string) kiln.Config {
	return kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: filepath.Join(dir, "kiln"),
		MigrationsDir: "examples/shop/migrations", AuthSecret: benchSecret, LookupEnv: benchEnv}
}

// benchEnv lifts the shop's rate limits: the benchmark measures the engine, not the policy.
func benchEnv(k string) (string, bool) {
	switch k {
	case "KILN_RATE_ANONYMOUS", "KILN_RATE_ACCOUNT", "KILN_RATE_API_KEY", "KILN_RATE_AUTH":
		return "1000000000/s", true
	}
	return "", false
}

func migrateAndOpen(ctx context.Context, dir string) (*kiln.App, error) {
	cfg := kilnConfig(dir)
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
