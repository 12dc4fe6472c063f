package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pathRecorder is a handler that answers 200 and remembers which paths it served.
type pathRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (p *pathRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (p *pathRecorder) served() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.paths...)
}

// rawExchange writes raw to a fresh connection and reads every response until the server
// closes the connection (or, with keepOpen, until n responses arrived).
func rawExchange(t *testing.T, b *testBundle, raw string, n int) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	rd := bufio.NewReader(conn)
	var out []*http.Response
	for len(out) < n {
		res, err := http.ReadResponse(rd, nil)
		if err != nil {
			break
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		out = append(out, res)
	}
	return out
}

func TestContentLengthWithTransferEncodingIsRefusedAndClosed(t *testing.T) {
	t.Parallel()
	rec := &pathRecorder{}
	b := setup(t, rec)
	smuggle := "POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	got := rawExchange(t, b, smuggle, 3)
	require.Len(t, got, 1, "the connection closes after the one answer")
	require.Equal(t, http.StatusBadRequest, got[0].StatusCode)
	require.True(t, got[0].Close, "Connection: close")
	require.Empty(t, rec.served(), "neither the ambiguous request nor the smuggled one reached a handler")
}

func TestFramingFollowsKeepAliveRequests(t *testing.T) {
	t.Parallel()
	rec := &pathRecorder{}
	b := setup(t, rec)
	// A chunked body that itself looks like an ambiguous head must not confuse the watcher.
	trap := "X\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	pipelined := "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
		strconvHex(len(trap)) + "\r\n" + trap + "\r\n0\r\nTrailer-Field: x\r\n\r\n" +
		"\r\nGET /plain HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /bad HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n"
	got := rawExchange(t, b, pipelined, 5)
	require.Len(t, got, 4)
	for i, want := range []int{200, 200, 200, 400} {
		require.Equal(t, want, got[i].StatusCode, "response %d", i)
	}
	require.Equal(t, []string{"/cl", "/chunked", "/plain"}, rec.served())
}

func strconvHex(n int) string { return strings.TrimLeft(strings.ToLower(hex4(n)), "0") }

func hex4(n int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[n>>12&15], digits[n>>8&15], digits[n>>4&15], digits[n&15]})
}

// FuzzFramingSplits: however the bytes of a connection arrive, the watcher decides the same
// (reads return arbitrary pieces of the stream).
func FuzzFramingSplits(f *testing.F) {
	f.Add("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n", uint8(1))
	f.Add("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", uint8(3))
	f.Fuzz(func(t *testing.T, stream string, step uint8) {
		whole := &framingConn{}
		whole.feed([]byte(stream))
		pieces := &framingConn{}
		n := int(step%16) + 1
		for i := 0; i < len(stream); i += n {
			pieces.feed([]byte(stream[i:min(len(stream), i+n)]))
		}
		require.Equal(t, whole.ambiguous, pieces.ambiguous)
		require.Equal(t, whole.state, pieces.state)
	})
}

// A keep-alive connection keeps only the heads read ahead of their handlers: served ones are
// dropped, and the order of answers stays right across the drop.
func TestFramingForgetsServedHeads(t *testing.T) {
	t.Parallel()
	c := &framingConn{}
	plain := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	for range 1000 {
		c.feed(plain)
		require.False(t, c.nextAmbiguous())
	}
	require.Empty(t, c.ambiguous)
	// Three pipelined heads, the second ambiguous, read before any is served.
	c.feed(plain)
	c.feed([]byte("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	require.Len(t, c.ambiguous, 2)
	require.False(t, c.nextAmbiguous())
	require.True(t, c.nextAmbiguous())
	require.Empty(t, c.ambiguous)
}
