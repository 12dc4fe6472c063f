// Package logbuf batches log lines into fewer writes. A server writes one access-log line per
// request; one write system call per line costs about as much as formatting the line. A
// Writer keeps lines for at most its interval (or until it holds Max bytes) and writes them
// at once; Handler writes at once whatever is buffered when a warning or error is logged,
// so those are never held back. Close (or Flush) writes the rest: call it before the process
// exits. A process killed outright loses at most one interval of lines.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Max is how many bytes a Writer holds before it writes them without waiting.
const Max = 64 << 10

// Writer buffers writes to out for at most every. It is safe for concurrent use; lines keep
// their order.
type Writer struct {
	out   io.Writer
	every time.Duration

	flushMu sync.Mutex // held while writing to out: writes keep their order
	mu      sync.Mutex // guards buf and armed
	buf     []byte
	spare   []byte
	armed   bool
	timer   *time.Timer
	closed  bool
}

// New returns a Writer to out that holds lines for at most every; every ≤ 0 writes through.
func New(out io.Writer, every time.Duration) *Writer {
	w := &Writer{out: out, every: every}
	if every > 0 {
		w.timer = time.AfterFunc(time.Hour, func() { _ = w.Flush() })
		w.timer.Stop()
	}
	return w
}

// Write keeps p for the next flush (or writes it through: see New and Close).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.every <= 0 || w.closed {
		w.mu.Unlock()
		w.flushMu.Lock()
		defer w.flushMu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= Max
	if !full && !w.armed {
		w.armed = true
		w.timer.Reset(w.every)
	}
	w.mu.Unlock()
	if full {
		return len(p), w.Flush()
	}
	return len(p), nil
}

// Flush writes what is buffered.
func (w *Writer) Flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	b := w.buf
	w.buf, w.spare, w.armed = w.spare[:0], nil, false
	w.mu.Unlock()
	var err error
	if len(b) > 0 {
		_, err = w.out.Write(b)
	}
	if cap(b) <= 4*Max { // the two buffers take turns; a rare huge one is let go
		w.mu.Lock()
		w.spare = b[:0]
		w.mu.Unlock()
	}
	return err
}

// Close writes what is buffered; later writes go straight through.
func (w *Writer) Close() error {
	w.mu.Lock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	return w.Flush()
}

// Handler wraps h (which writes to w) so that a record at level Warn or above is written at
// once, with everything buffered before it.
func Handler(h slog.Handler, w *Writer) slog.Handler { return &handler{inner: h, w: w} }

// JSONHandler is Handler over slog's JSON handler on w with default options. It also offers w
// to callers that format a line of that shape themselves (JSONLines): the access log, written
// once per request, skips slog's per-record work that way.
func JSONHandler(w *Writer) slog.Handler {
	return &handler{inner: slog.NewJSONHandler(w, nil), w: w, plain: true}
}

type handler struct {
	inner slog.Handler
	w     *Writer
	plain bool // inner is slog's JSON handler on w, default options, no attributes or groups
}

// JSONLines is the writer a caller may write whole lines of slog's JSON format to, as this
// handler would write them; nil when this handler adds attributes or groups, or is not JSON.
func (h *handler) JSONLines() io.Writer {
	if !h.plain {
		return nil
	}
	return h.w
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.inner.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{inner: h.inner.WithAttrs(as), w: h.w}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name), w: h.w}
}
