package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/logbuf"
)

// slogLine is the line slog's JSON handler writes for e at t.
func slogLine(t *testing.T, at time.Time, e accessEntry) string {
	t.Helper()
	var buf bytes.Buffer
	r := slog.NewRecord(at, slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("request_id", e.id), slog.String("method", e.method), slog.String("path", e.path),
		slog.Int("status", e.status), slog.Int("bytes", e.bytes), slog.Float64("duration_ms", e.ms))
	require.NoError(t, slog.NewJSONHandler(&buf, nil).Handle(context.Background(), r))
	return buf.String()
}

func TestAccessLineMatchesSlog(t *testing.T) {
	t.Parallel()
	zones := []*time.Location{time.UTC, time.FixedZone("a", 5*3600+45*60), time.FixedZone("b", -3*3600)}
	paths := []string{"/api/products/0193", "", `/a"b\c`, "/\x00\x01\x1f\x7f", "/\n\r\t", "/<script>&amp;",
		"/\xff\xfe", "/é/日本/\u2028\u2029", "/\xe2\x80", strings.Repeat("/x", 3000)}
	floats := []float64{0, 0.001, 0.123, 1, 12.5, 1234.567, 1e-7, 3e21, 999999.999}
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 3000 {
		at := time.Unix(r.Int64N(4_000_000_000), r.Int64N(1_000_000_000)).In(zones[i%len(zones)])
		path := paths[i%len(paths)]
		if i >= len(paths)*10 {
			raw := make([]byte, r.IntN(24))
			for j := range raw {
				raw[j] = byte(r.IntN(256))
			}
			path = string(raw)
		}
		e := accessEntry{id: "req-" + path[:min(len(path), 3)], method: "GET", path: path,
			status: 200 + i%300, bytes: r.IntN(1 << 20), ms: floats[i%len(floats)]}
		if i%7 == 0 {
			e.ms = float64(r.Int64N(10_000_000)) / 1000
		}
		var got bytes.Buffer
		writeAccessLine(&got, at, e)
		require.Equal(t, slogLine(t, at, e), got.String(), "entry %+v at %v", e, at)
	}
}

// The chain formats the access line itself only under logbuf's plain JSON handler; a logger
// with attributes of its own goes through slog and keeps them.
func TestAccessLogUnderLogbufJSON(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := logbuf.New(&out, 0)
	h := logbuf.JSONHandler(w)
	require.NotNil(t, h.(jsonLines).JSONLines())
	require.Nil(t, h.WithAttrs([]slog.Attr{slog.String("k", "v")}).(jsonLines).JSONLines())

	for i, log := range []*slog.Logger{slog.New(h), slog.New(h).With("component", "api")} {
		out.Reset()
		srv := setupWithLog(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("hello"))
		}), log)
		req, err := http.NewRequest(http.MethodGet, srv.srv.URL+"/p%22a%0Ath?secret=1", nil)
		require.NoError(t, err)
		req.Header.Set("X-Request-ID", "abc-1")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.NoError(t, w.Flush())
		var line map[string]any
		require.NoError(t, json.Unmarshal(bytes.TrimSpace(out.Bytes()), &line), out.String())
		require.Equal(t, "request", line["msg"])
		require.Equal(t, "abc-1", line["request_id"])
		require.Equal(t, "/p\"a\nth", line["path"])
		require.EqualValues(t, 200, line["status"])
		require.EqualValues(t, 5, line["bytes"])
		require.NotContains(t, out.String(), "secret")
		if i == 0 {
			require.NotContains(t, line, "component")
		} else {
			require.Equal(t, "api", line["component"])
		}
	}
}
