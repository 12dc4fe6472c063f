package kiln_test

import (
	"net/http"
	"strconv"
	"testing"

	"log/slog"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// kiln.WriteJSON of a value JSON cannot encode, or with a status that is no final HTTP status,
// answers 500 with the API's internal problem (no internal text), logs why with the request id
// and returns the error: it answered 200 with an empty body and said nothing, and a status
// below 100 cut the connection with a log line claiming the answer had begun (a new user's trial).
func TestWriteJSONAnswersItsFailuresAsInternalErrors(t *testing.T) {
	t.Parallel()
	var returned []error
	x := &kiln.Extensions{}
	x.Handle("GET /api/json", func(w http.ResponseWriter, r *http.Request, _ kiln.RouteCall) {
		status, _ := strconv.Atoi(r.URL.Query().Get("status"))
		var v any = map[string]any{"ok": true}
		if r.URL.Query().Has("chan") {
			v = map[string]any{"ch": make(chan int)}
		}
		returned = append(returned, kiln.WriteJSON(w, status, v))
	})
	logs := &lockedBuffer{}
	b := setupHooks(t, "sqlite", hookOpts{ext: x, log: slog.New(slog.NewJSONHandler(logs, nil))})

	res := b.do("GET", "/api/json?status=200&chan=1", nil)
	require.Equal(t, http.StatusInternalServerError, res.status, string(res.raw))
	require.Equal(t, "internal", res.body["error"])
	require.NotContains(t, string(res.raw), "chan", "no internal text")
	require.Equal(t, res.header.Get("X-Request-Id"), res.body["request_id"])
	require.Contains(t, logs.String(), "json: unsupported type: chan int")
	require.Contains(t, logs.String(), res.header.Get("X-Request-Id"))
	require.ErrorContains(t, returned[0], "unsupported type")

	for _, status := range []int{99, 1000, -1, 999, 103} {
		res := b.do("GET", "/api/json?status="+strconv.Itoa(status), nil)
		require.Equal(t, http.StatusInternalServerError, res.status, "status %d: %s", status, res.raw)
		require.Equal(t, "internal", res.body["error"], "status %d", status)
		require.Contains(t, logs.String(), "status "+strconv.Itoa(status)+" is not", "status %d", status)
	}
	require.NotContains(t, logs.String(), "after its answer began")
	res = b.do("GET", "/api/json?status=201", nil)
	require.Equal(t, http.StatusCreated, res.status)
	require.Equal(t, true, res.body["ok"])
}
