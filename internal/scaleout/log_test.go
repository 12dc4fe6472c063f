package scaleout_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The server's log is written in batches (KILN_LOG_FLUSH): a request's line is out within the
// interval, and whatever is still buffered is written when the process stops.
func TestServeLogLinesAreWrittenWithinTheIntervalAndOnStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, base := startServe(t, "serve", map[string]string{"KILN_LOG_FLUSH": "1h"},
		"--dev", "--spec", shopSpec, "--data-dir", dir, "--migrations", dir+"/m")
	for range 3 {
		res, err := http.Get(base + "/api/products?limit=1")
		require.NoError(t, err)
		_ = res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	p.stop()
	require.Equal(t, 3, strings.Count(p.out.String(), `"msg":"request","request_id"`), "every line written on stop:\n%s", p.out.String())

	p, base = startServe(t, "serve-100ms", map[string]string{"KILN_LOG_FLUSH": "100ms"},
		"--dev", "--spec", shopSpec, "--data-dir", dir, "--migrations", dir+"/m")
	res, err := http.Get(base + "/api/products?limit=1")
	require.NoError(t, err)
	_ = res.Body.Close()
	p.waitFor(regexp.MustCompile(`"msg":"request","request_id":"[^"]+","method":"GET","path":"/api/products"`), 10*time.Second)
	p.stop()

	bad := startKiln(t, "bad-flush", map[string]string{"KILN_LOG_FLUSH": "soon"}, "serve", "--dev", "--spec", shopSpec, "--data-dir", dir)
	require.Error(t, bad.wait(30*time.Second))
	require.Contains(t, bad.out.String(), `--log-flush (KILN_LOG_FLUSH) "soon": want a duration such as 100ms`)
}
