package logbuf_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/logbuf"
)

// sink is an io.Writer that counts its writes.
type sink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *sink) text() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String(), s.writes
}

func TestLinesWaitForTheIntervalThenGoInOneWrite(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := logbuf.New(out, 150*time.Millisecond)
	defer w.Close()
	for i := range 3 {
		_, err := fmt.Fprintf(w, "line %d\n", i)
		require.NoError(t, err)
	}
	text, _ := out.text()
	require.Empty(t, text, "held for the interval")
	require.Eventually(t, func() bool { s, _ := out.text(); return s != "" }, 5*time.Second, 10*time.Millisecond)
	text, writes := out.text()
	require.Equal(t, "line 0\nline 1\nline 2\n", text)
	require.Equal(t, 1, writes)

	_, err := fmt.Fprintf(w, "line 3\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { s, _ := out.text(); return strings.HasSuffix(s, "line 3\n") }, 5*time.Second, 10*time.Millisecond,
		"a write after a flush arms the timer again")
}

func TestWarningsAndErrorsAreWrittenAtOnce(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := logbuf.New(out, time.Hour)
	log := slog.New(logbuf.Handler(slog.NewJSONHandler(w, nil), w)).With("app", "kiln")
	log.Info("request", "path", "/a")
	text, _ := out.text()
	require.Empty(t, text)
	log.Warn("slow")
	text, _ = out.text()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	require.Len(t, lines, 2, "the warning, and the line before it")
	require.Contains(t, lines[0], `"path":"/a"`)
	require.Contains(t, lines[1], `"msg":"slow"`)
	require.Contains(t, lines[1], `"app":"kiln"`, "WithAttrs keeps the flushing handler")
	log.WithGroup("g").Error("failed", "k", 1)
	text, _ = out.text()
	require.Contains(t, text, `"g":{"k":1}`)
}

func TestAFullBufferIsWrittenWithoutWaiting(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := logbuf.New(out, time.Hour)
	line := strings.Repeat("x", 1023) + "\n"
	for range logbuf.Max / len(line) {
		_, err := w.Write([]byte(line))
		require.NoError(t, err)
	}
	text, writes := out.text()
	require.Len(t, text, logbuf.Max)
	require.Equal(t, 1, writes)
}

func TestCloseWritesTheRestAndLaterLinesGoThrough(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := logbuf.New(out, time.Hour)
	_, _ = w.Write([]byte("a\n"))
	require.NoError(t, w.Close())
	text, _ := out.text()
	require.Equal(t, "a\n", text)
	_, _ = w.Write([]byte("b\n"))
	text, _ = out.text()
	require.Equal(t, "a\nb\n", text)

	through := &sink{}
	u := logbuf.New(through, 0)
	_, _ = u.Write([]byte("c\n"))
	text, _ = through.text()
	require.Equal(t, "c\n", text, "no interval: every write goes through")
}

// Many writers, timer and size flushes racing: every line arrives whole, each writer's lines
// in its order.
func TestConcurrentWritersKeepLinesWholeAndInOrder(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := logbuf.New(out, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				_, _ = fmt.Fprintf(w, "%d %d %s\n", g, i, strings.Repeat("y", 40))
			}
		})
	}
	wg.Wait()
	require.NoError(t, w.Close())
	text, _ := out.text()
	next := make([]int, 8)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	require.Len(t, lines, 8*2000)
	for _, l := range lines {
		var g, i int
		var rest string
		_, err := fmt.Sscanf(l, "%d %d %s", &g, &i, &rest)
		require.NoError(t, err, l)
		require.Equal(t, next[g], i, "writer %d's lines in order", g)
		require.Len(t, rest, 40)
		next[g]++
	}
}
