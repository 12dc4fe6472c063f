package kiln_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/testdb"
)

const typesBefore = `resources:
  items:
    fields:
      price: number
      amount: string
      qty: string
      flag: boolean
      day: date
      at: datetime
    access: {list: public, view: public, create: public, update: public, delete: public}
`

const typesAfter = `resources:
  items:
    fields:
      price: {type: decimal, precision: 12, scale: 2}
      amount: {type: decimal, precision: 12, scale: 2}
      qty: integer
      flag: string
      day: datetime
      at: date
    access: {list: public, view: public, create: public, update: public, delete: public}
`

// serveSpec starts an app on cfg with the spec src written to cfg.SpecPath; stop closes it.
func serveSpec(t *testing.T, cfg kiln.Config, src string) (b *testBundle, stop func()) {
	t.Helper()
	require.NoError(t, os.WriteFile(cfg.SpecPath, []byte(src), 0o644))
	app, err := kiln.New(context.Background(), cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(app.Handler())
	return &testBundle{app: app, srv: srv, t: t}, func() { srv.Close(); require.NoError(t, app.Close()) }
}

// A record whose fields change type is served with the values PostgreSQL's casts give, alike
// on both databases: a number and a string as decimals scaled exactly (SQLite stored 2.675 as
// 0.02), a date as midnight UTC and a datetime as its date (SQLite kept their text: every GET
// of the record was 500), text as an integer, a boolean as "true".
func TestChangedFieldTypesServeTheConvertedValues(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		dir := t.TempDir()
		cfg := kiln.Config{SpecPath: filepath.Join(dir, "kiln.yaml"), DataDir: dir, MigrationsDir: filepath.Join(dir, "migrations"),
			Dev: true, LookupEnv: noEnv, AuthSecret: testSecret}
		if dialect == "postgres" {
			cfg.DatabaseURL = testdb.PostgresURL(t)
		}
		b, stop := serveSpec(t, cfg, typesBefore)
		id := b.create("items", map[string]any{"price": json.Number("2.675"), "amount": "2.675", "qty": " 42 ", "flag": true,
			"day": "2026-03-04", "at": "2026-01-01T10:00:00Z"})
		stop()

		require.NoError(t, os.WriteFile(cfg.SpecPath, []byte(typesAfter), 0o644))
		sp, err := kiln.LoadSpec(cfg.SpecPath, noEnv)
		require.NoError(t, err)
		st, m, err := kiln.OpenStore(context.Background(), cfg, sp)
		require.NoError(t, err)
		plan, err := m.Plan(migrate.FromSpec(sp))
		require.NoError(t, err)
		_, err = m.Write(plan, "types", true)
		require.NoError(t, err)
		_, err = m.Up(context.Background(), nil)
		require.NoError(t, err)
		require.NoError(t, st.Close())

		b, stop = serveSpec(t, cfg, typesAfter)
		defer stop()
		res := b.do("GET", "/api/items/"+id, nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		got := map[string]any{}
		for _, k := range []string{"price", "amount", "qty", "flag", "day", "at"} {
			got[k] = res.body[k]
		}
		require.Equal(t, map[string]any{"price": json.Number("2.68"), "amount": json.Number("2.68"), "qty": json.Number("42"), "flag": "true",
			"day": "2026-03-04T00:00:00.000000Z", "at": "2026-01-01"}, got, string(res.raw))
	})
}
