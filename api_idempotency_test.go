package kiln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// An order retried with the same Idempotency-Key and body gets the same answer and is placed
// once; the key with another body is 422; keys belong to their principal; a refusal is
// replayed too, without writing.
func TestIdempotencyKeyPlacesAnOrderOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		a := b.product("A", "2.50", 10)
		ann, bob := bearer(b.token("customer")), bearer(b.token("customer"))
		body := map[string]any{"items": []any{item(a, 2)}}
		orders := b.count("orders")

		first := b.do("POST", "/api/orders", body, append(ann, "Idempotency-Key", "order-1")...)
		require.Equal(t, http.StatusCreated, first.status, string(first.raw))
		retry := b.do("POST", "/api/orders", body, append(ann, "Idempotency-Key", "order-1")...)
		require.Equal(t, http.StatusCreated, retry.status)
		require.Equal(t, "true", retry.header.Get("Idempotent-Replayed"))
		require.Equal(t, first.body["id"], retry.body["id"])
		require.Equal(t, first.header.Get("Location"), retry.header.Get("Location"))
		require.Equal(t, orders+1, b.count("orders"), "one order")
		require.Equal(t, "8", b.stock(a), "stock taken once")

		other := b.do("POST", "/api/orders", map[string]any{"items": []any{item(a, 3)}}, append(ann, "Idempotency-Key", "order-1")...)
		require.Equal(t, http.StatusUnprocessableEntity, other.status)
		require.Equal(t, "idempotency_key_reused", other.body["error"])

		mine := b.do("POST", "/api/orders", body, append(bob, "Idempotency-Key", "order-1")...)
		require.Equal(t, http.StatusCreated, mine.status, "another principal's key is another key")
		require.NotEqual(t, first.body["id"], mine.body["id"])

		over := map[string]any{"items": []any{item(a, 50)}}
		refused := b.do("POST", "/api/orders", over, append(ann, "Idempotency-Key", "too-many")...)
		require.Equal(t, http.StatusConflict, refused.status)
		stockBefore := b.stock(a)
		again := b.do("POST", "/api/orders", over, append(ann, "Idempotency-Key", "too-many")...)
		require.Equal(t, http.StatusConflict, again.status)
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"), "the refusal is the stored answer")
		require.Equal(t, stockBefore, b.stock(a))

		bad := b.do("POST", "/api/orders", body, append(ann, "Idempotency-Key", strings.Repeat("k", 256))...)
		require.Equal(t, http.StatusBadRequest, bad.status)
		require.Equal(t, "malformed_request", bad.body["error"])

		// A key sent empty or twice is refused, not taken for no key: nothing is written.
		orders = b.count("orders")
		for _, keys := range [][]string{{""}, {"k-1", "k-2"}, {"k-3", "k-3"}} {
			status, raw := postWithKeys(t, b, "/api/orders", body, ann[1], keys)
			require.Equal(t, http.StatusBadRequest, status, "%q: %s", keys, raw)
			require.Contains(t, raw, "Idempotency-Key must be one header")
		}
		require.Equal(t, orders, b.count("orders"))
	})
}

// postWithKeys posts body with auth as Authorization and each of keys as an Idempotency-Key
// header line, as they are (b.do sends one header per name, none for an empty value).
func postWithKeys(t *testing.T, b *testBundle, path string, body any, auth string, keys []string) (int, string) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	req.Header["Idempotency-Key"] = keys
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(answer)
}

// PATCH and actions accept keys too: a replayed cancel does not run the action again (a
// second real cancel would be a 409).
func TestIdempotencyKeyOnPatchAndActions(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		a := b.product("A", "1", 5)
		ann := bearer(b.token("customer"))
		order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(a, 1)}}, ann...)
		id := order.body["id"].(string)
		for range 2 {
			res := b.do("POST", "/api/orders/"+id+"/cancel", nil, append(ann, "Idempotency-Key", "cancel-"+id)...)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			require.Equal(t, "cancelled", res.body["status"])
		}
		require.Equal(t, "5", b.stock(a), "restocked once")
		staff := bearer(b.token("staff"))
		for range 2 {
			res := b.do("PATCH", "/api/products/"+a, map[string]any{"stock": 9}, append(staff, "Idempotency-Key", "restock")...)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
		}
		require.Equal(t, "9", b.stock(a))
	})
}

// While the app serves, answers older than server.idempotency_ttl are swept: the key then
// runs as new.
func TestExpiredIdempotencyKeysAreSwept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
	require.NoError(t, err)
	specPath := filepath.Join(dir, "kiln.yaml")
	shop := strings.Replace(string(src), "server:\n", "server:\n  idempotency_ttl: 1s\n", 1)
	require.NotEqual(t, string(src), shop, "the shop spec has a server block")
	require.NoError(t, os.WriteFile(specPath, []byte(shop), 0o644))
	copyShopMails(t, dir)
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: specPath, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"),
		Dev: true, LookupEnv: noEnv, AuthSecret: testSecret})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served; _ = app.Close() })

	b := &testBundle{app: app, t: t, dataDir: dir, srv: &httptest.Server{URL: "http://" + ln.Addr().String()}}
	tok := bearer(b.token("customer"))
	first := b.do("POST", "/api/tags", map[string]any{"name": "swept"}, append(tok, "Idempotency-Key", "k")...)
	require.Equal(t, http.StatusForbidden, first.status, "customers may not create tags: the refusal is stored")
	require.Equal(t, "true", b.do("POST", "/api/tags", map[string]any{"name": "swept"}, append(tok, "Idempotency-Key", "k")...).header.Get("Idempotent-Replayed"))
	require.Eventually(t, func() bool {
		rows, err := app.Store.Reader().QueryRaw(context.Background(), "SELECT 1 FROM kiln_idempotency")
		if err != nil {
			return false
		}
		defer rows.Close()
		return !rows.Next()
	}, 10*time.Second, 100*time.Millisecond, "the sweep deletes the expired answer")
	again := b.do("POST", "/api/tags", map[string]any{"name": "swept"}, append(tok, "Idempotency-Key", "k")...)
	require.Empty(t, again.header.Get("Idempotent-Replayed"), "runs as a new request")
}

// Anonymous keys belong to the client address: another client with the same key and body
// gets its own answer, never the first client's.
func TestAnonymousIdempotencyKeysAreScopedToTheClient(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", `server:
  trusted_proxies: ["127.0.0.1/32", "::1/128"]
resources:
  notes:
    fields:
      text: string
`)
	post := func(client string) response {
		return b.do("POST", "/api/notes", map[string]any{"text": "hi"}, "Idempotency-Key", "k1", "X-Forwarded-For", client)
	}
	first, again, other := post("203.0.113.7"), post("203.0.113.7"), post("198.51.100.9")
	require.Equal(t, http.StatusCreated, first.status)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, first.body["id"], again.body["id"])
	require.Equal(t, http.StatusCreated, other.status)
	require.Empty(t, other.header.Get("Idempotent-Replayed"))
	require.NotEqual(t, first.body["id"], other.body["id"])
}

// Twenty requests sent at once with one Idempotency-Key write once: the others replay the
// answer or hear that the first is still running. On PostgreSQL a request that found no key
// deleted the claim another had committed since, and both wrote (two to five orders).
func TestConcurrentRequestsWithOneKeyWriteOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		a := b.product("A", "2.50", 100)
		ann := bearer(b.token("customer"))
		body := map[string]any{"items": []any{item(a, 1)}}
		orders := b.count("orders")
		for round := range 3 {
			key := "together-" + string(rune('a'+round))
			var mu sync.Mutex
			fresh := 0
			counts := statusCounts(20, func(int) int {
				got := b.do("POST", "/api/orders", body, append(ann, "Idempotency-Key", key)...)
				if got.status == http.StatusCreated && got.header.Get("Idempotent-Replayed") == "" {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
				return got.status
			})
			require.Equal(t, 20, counts[http.StatusCreated]+counts[http.StatusConflict], "%v", counts)
			require.Equal(t, 1, fresh, "one request wrote, the others replayed: %v", counts)
			require.Equal(t, orders+int64(round)+1, b.count("orders"))
		}
		require.Equal(t, "97", b.stock(a))
	})
}
