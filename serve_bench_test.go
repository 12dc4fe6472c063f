package kiln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/logbuf"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// highRateLimits sets every rate limit to 10⁹/s, as the load benchmark does: each request is
// counted, none refused.
func highRateLimits(k string) (string, bool) {
	switch k {
	case "KILN_RATE_ANONYMOUS", "KILN_RATE_ACCOUNT", "KILN_RATE_API_KEY", "KILN_RATE_AUTH":
		return "1000000000/s", true
	}
	return "", false
}

// BenchmarkServeRead runs the shop's product reads through the whole handler chain — request
// id, JSON access log (to io.Discard), rate limit, access rules, encoder — on embedded
// SQLite, without the network: the in-process view of the load benchmark's get and list
// scenarios (go run ./bench), for profiling the serving path:
//
//	go test -run '^$' -bench BenchmarkServeRead -benchmem -cpuprofile /tmp/cpu.pb -memprofile /tmp/mem.pb .
func BenchmarkServeRead(b *testing.B) {
	app := benchShop(b)
	ids := benchProducts(b, app, 200)
	h := app.Handler()
	for _, sc := range []struct{ name, path string }{{"get", "/api/products/"}, {"list", "/api/products?limit=20"}} {
		b.Run(sc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				path := sc.path
				if sc.name == "get" {
					path += ids[i%len(ids)]
				}
				i++
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkServeWrite runs the shop's product create and patch through the whole handler chain
// with a staff token, on embedded SQLite: the in-process view of the load benchmark's create
// and patch scenarios, from one writer and from sixteen (create-16, patch-16: those share
// commits).
//
//	go test -run '^$' -bench BenchmarkServeWrite -benchmem -cpuprofile /tmp/cpu.pb .
func BenchmarkServeWrite(b *testing.B) {
	ctx := context.Background()
	app := benchShop(b)
	staff, err := app.Service.Create(service.AsSystem(ctx), "users", map[string]any{"email": "bench@example.com", "role": "staff"}, service.WriteOpts{})
	if err != nil {
		b.Fatal(err)
	}
	pair, err := app.Accounts.StartSession(ctx, staff.ID)
	if err != nil {
		b.Fatal(err)
	}
	ids := benchProducts(b, app, 200)
	h := app.Handler()
	do := func(method, path, body string) error {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+pair.AccessToken)
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusCreated {
			return fmt.Errorf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		return nil
	}
	create := func(int) error {
		return do(http.MethodPost, "/api/products", `{"name":"Bench product","price":12.34,"stock":3}`)
	}
	patch := func(i int) error {
		return do(http.MethodPatch, "/api/products/"+ids[i%len(ids)], `{"price":`+strconv.Itoa(10+i%90)+`.5}`)
	}
	for _, sc := range []struct {
		name string
		run  func(int) error
	}{{"create", create}, {"patch", patch}} {
		b.Run(sc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := sc.run(i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		// 16 concurrent writers, as in the load benchmark: SQLite commits their writes in groups.
		b.Run(sc.name+"-16", func(b *testing.B) {
			var n atomic.Int64
			b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := sc.run(int(n.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchShop opens the shop on embedded SQLite in a temporary directory, configured as the
// load benchmark runs it (the JSON log of kiln serve, here to io.Discard; rate limits on, never
// refusing).
// With KILN_BENCH_POSTGRES=1 it opens a fresh PostgreSQL database instead (the tests' server,
// KILN_TEST_POSTGRES_URL).
func benchShop(b *testing.B) *kiln.App {
	dir := b.TempDir()
	cfg := kiln.Config{SpecPath: filepath.Join("examples", "shop", "kiln.yaml"), DataDir: dir,
		MigrationsDir: filepath.Join(dir, "m"), Dev: true, LookupEnv: highRateLimits, AuthSecret: testSecret,
		Logger: slog.New(logbuf.JSONHandler(logbuf.New(io.Discard, 0)))}
	if os.Getenv("KILN_BENCH_POSTGRES") == "1" {
		cfg.DatabaseURL = testdb.PostgresURL(b)
	}
	app, err := kiln.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = app.Close() })
	return app
}

// benchProducts creates n products as the system and returns their ids.
func benchProducts(b *testing.B, app *kiln.App, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		rec, err := app.Service.Create(service.AsSystem(context.Background()), "products",
			map[string]any{"name": "Product", "price": json.Number("12.34"), "stock": json.Number("3")}, service.WriteOpts{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = rec.ID
	}
	return ids
}
