package kiln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// redisBundle is the shop on SQLite with a Redis of the test's own, and its JSON log.
type redisBundle struct {
	srv   *httptest.Server
	redis *testdb.PrivateRedis
	logs  *bytes.Buffer
	mu    *sync.Mutex
}

func setupPrivateRedis(t testing.TB, redis *testdb.PrivateRedis, extra ...string) *redisBundle {
	t.Helper()
	b := &redisBundle{redis: redis, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	env := map[string]string{"KILN_REDIS_URL": redis.URL(), "KILN_RATE_AUTH": "1000/min"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	dir := t.TempDir()
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: dir,
		MigrationsDir: filepath.Join(dir, "migrations"), Dev: true, LookupEnv: lookup, AuthSecret: testSecret,
		Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: b.logs, mu: b.mu}, nil))})
	require.NoError(t, err)
	b.srv = httptest.NewServer(app.Handler())
	t.Cleanup(func() { b.srv.Close(); _ = app.Close() })
	return b
}

// lines counts the log lines whose message starts with prefix.
func (b *redisBundle) lines(t testing.TB, prefix string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "every log line is JSON: %s", l)
		if strings.HasPrefix(m["msg"].(string), prefix) {
			out = append(out, m)
		}
	}
	return out
}

func (b *redisBundle) login(t *testing.T, password string) *http.Response {
	res, err := http.Post(b.srv.URL+"/api/auth/login", "application/json",
		strings.NewReader(`{"email":"victim@example.com","password":"`+password+`"}`))
	require.NoError(t, err)
	res.Body.Close()
	return res
}

// With its Redis paused, an instance answers without waiting on it, keeps limiting in process
// — the 11th wrong password is refused — and logs one line when Redis goes and one when it is back.
func TestPausedRedisKeepsLimitsInProcess(t *testing.T) {
	t.Parallel()
	b := setupPrivateRedis(t, testdb.StartPrivateRedis(t))
	require.Equal(t, http.StatusUnauthorized, b.login(t, "guess-0").StatusCode)
	b.redis.Pause()
	t.Cleanup(b.redis.Resume)
	for i := 1; i < 10; i++ {
		require.Equal(t, http.StatusUnauthorized, b.login(t, "guess").StatusCode, "wrong password %d", i+1)
	}
	res := b.login(t, "guess-11")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "the 11th wrong password is refused with Redis paused")
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	for i := 0; i < 20; i++ {
		get, err := http.Get(b.srv.URL + "/api/products")
		require.NoError(t, err)
		get.Body.Close()
		require.Equal(t, http.StatusOK, get.StatusCode)
		require.Equal(t, `"anonymous";q=60;w=60`, get.Header.Get("RateLimit-Policy"), "limited in process")
	}
	b.redis.Resume()
	require.Eventually(t, func() bool { return len(b.lines(t, "redis available again")) == 1 }, 10*time.Second, 10*time.Millisecond)
	down := b.lines(t, "redis unavailable")
	require.Len(t, down, 1, "one line for the outage, none per request")
	require.NotEmpty(t, down[0]["cause"])
	require.Empty(t, b.lines(t, "rate limiter unavailable"))
}

// An instance started while Redis is down starts, says so, and uses Redis once it is back.
func TestInstanceStartsWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	redis := testdb.StartPrivateRedis(t)
	redis.Stop()
	b := setupPrivateRedis(t, redis)
	down := b.lines(t, "redis unavailable")
	require.Len(t, down, 1)
	require.Equal(t, "at start", down[0]["when"])
	get, err := http.Get(b.srv.URL + "/api/products")
	require.NoError(t, err)
	get.Body.Close()
	require.Equal(t, http.StatusOK, get.StatusCode)
	redis.Start()
	require.Eventually(t, func() bool { return len(b.lines(t, "redis available again")) == 1 }, 10*time.Second, 10*time.Millisecond)
}

// BenchmarkGetWithRedis measures GET /api/products on an instance that limits through its
// Redis, with Redis up and with Redis paused (SIGSTOP: connections open, nothing answers), and
// reports the median and 99th percentile (docs/scaling.md).
func BenchmarkGetWithRedis(b *testing.B) {
	for _, paused := range []bool{false, true} {
		name := map[bool]string{false: "Up", true: "Paused"}[paused]
		b.Run(name, func(b *testing.B) {
			bb := setupPrivateRedis(b, testdb.StartPrivateRedis(b), "KILN_RATE_ANONYMOUS", "100000000/min")
			if paused {
				bb.redis.Pause()
				b.Cleanup(bb.redis.Resume)
			}
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				res, err := http.Get(bb.srv.URL + "/api/products")
				if err != nil || res.StatusCode != http.StatusOK {
					b.Fatalf("GET: %v %v", err, res)
				}
				_ = res.Body.Close()
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
