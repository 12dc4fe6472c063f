package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kiln-dev/kiln/internal/api/rest"
)

// statusWriter records the status and size for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && !informational(code) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// informational reports a 1xx answer that another follows (103 Early Hints): not the
// request's status, and no sign the answer began (a panic after it can still be a 500).
func informational(code int) bool {
	return code >= 100 && code < 200 && code != http.StatusSwitchingProtocols
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// jsonLines is a log handler that lets a caller write lines of slog's JSON format itself
// (logbuf.JSONHandler); JSONLines is nil when it cannot.
type jsonLines interface{ JSONLines() io.Writer }

// accessLog writes one line per request: the request id, method, path (never the query string:
// it may carry filters with personal data), status, bytes and duration. When the logger is
// slog's plain JSON handler on a line writer, the line is formatted here, byte for byte as
// slog would (TestAccessLineMatchesSlog): slog's generic path (record, attribute walk,
// encoding/json for the float) cost about 6% of a read by id.
func accessLog(next http.Handler, log *slog.Logger) http.Handler {
	var lines io.Writer
	if jl, ok := log.Handler().(jsonLines); ok {
		lines = jl.JSONLines()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() { // also when the answer is cut (a panic after it began: recovery)
			logAccess(lines, log, r, sw, start)
		}()
		next.ServeHTTP(sw, r)
	})
}

// logAccess writes the request's access line.
func logAccess(lines io.Writer, log *slog.Logger, r *http.Request, sw *statusWriter, start time.Time) {
	ctx := r.Context()
	ms := float64(time.Since(start).Microseconds()) / 1000
	if lines != nil && log.Enabled(ctx, slog.LevelInfo) {
		writeAccessLine(lines, time.Now(), accessEntry{rest.RequestID(ctx), r.Method, r.URL.Path, sw.status, sw.bytes, ms})
		return
	}
	log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", rest.RequestID(ctx)),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
		slog.Int("bytes", sw.bytes), slog.Float64("duration_ms", ms))
}

// accessEntry is what one access-log line says.
type accessEntry struct {
	id, method, path string
	status, bytes    int
	ms               float64
}

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// writeAccessLine writes e as slog's JSON handler writes the record "request" at level INFO
// with e's attributes, logged at t — for what accessLog passes: a clock reading (a year in
// 0–9999) and a measured, finite duration. slog writes error text into the line for others.
func writeAccessLine(w io.Writer, t time.Time, e accessEntry) {
	bp := lineBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano) // as slog writes a record's time
	b = append(b, `","level":"INFO","msg":"request","request_id":"`...)
	b = appendJSONText(b, e.id)
	b = append(b, `","method":"`...)
	b = appendJSONText(b, e.method)
	b = append(b, `","path":"`...)
	b = appendJSONText(b, e.path)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(e.bytes), 10)
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, e.ms)
	b = append(b, "}\n"...)
	_, _ = w.Write(b)
	if cap(b) <= 4<<10 {
		*bp = b
		lineBufs.Put(bp)
	}
}

// appendJSONFloat is f as encoding/json writes a float64 (slog's way for a float attribute).
func appendJSONFloat(b []byte, f float64) []byte {
	if f == 0 || (f >= 1e-6 && f < 1e21) {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	out, err := json.Marshal(f)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, out...)
}

const hexDigits = "0123456789abcdef"

// appendJSONText is s escaped for a JSON string as slog escapes it: no HTML escaping, control
// characters and quotes escaped, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendJSONText(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			}
			start = i + size
		}
		i += size
	}
	return append(b, s[start:]...)
}
