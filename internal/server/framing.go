package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/kiln-dev/kiln/internal/api/rest"
	"github.com/kiln-dev/kiln/internal/service"
)

// RFC 9112 §6.1: a request with both Content-Length and Transfer-Encoding may be an attempt
// at request smuggling, and the connection must be closed after answering it. net/http drops
// the Content-Length before a handler sees the request, so the listener watches the raw
// request heads itself: framingConn follows HTTP/1.1 message framing on the bytes the server
// reads and records, per request, whether its head carried both headers.

// maxHeadLine bounds one head line the watcher keeps; longer heads are net/http's to refuse.
const maxHeadLine = 64 << 10

type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type connKey struct{}

// connContext hands each connection's watcher to its requests (http.Server.ConnContext).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, connKey{}, fc)
	}
	return ctx
}

// refuseAmbiguousFraming answers 400 and closes the connection for a request whose head had
// both Content-Length and Transfer-Encoding.
func refuseAmbiguousFraming(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fc, _ := r.Context().Value(connKey{}).(*framingConn)
		if fc != nil && r.ProtoMajor == 1 && fc.nextAmbiguous() {
			w.Header().Set("Connection", "close")
			rest.WriteError(w, r, log, service.Errorf(service.CodeMalformed,
				"the request has both Content-Length and Transfer-Encoding (RFC 9112 section 6.1): send one of them"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

type framingState int

const (
	stHead framingState = iota
	stBody
	stChunkSize
	stChunkData
	stTrailer
	stOff // framing is no longer followed: net/http refuses such a connection itself
)

// framingConn records, for each request head read from the connection, whether it was
// ambiguous. Reads happen on the server's connection goroutines, the lookup on the handler's.
type framingConn struct {
	net.Conn
	mu        sync.Mutex
	state     framingState
	line      []byte
	remaining int64 // body or chunk bytes left to skip
	sawCL     bool
	sawTE     bool
	chunked   bool
	lineCount int    // lines of the current head
	ambiguous []bool // one per request head seen
	served    int    // requests handed to handlers
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// nextAmbiguous reports whether the next request handed to a handler had an ambiguous head.
func (c *framingConn) nextAmbiguous() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.served
	c.served++
	amb := i < len(c.ambiguous) && c.ambiguous[i]
	if c.served >= len(c.ambiguous) {
		// Every head read so far is served: start the list again, so that a long-lived
		// connection keeps only the heads read ahead of their handlers, not one per request.
		c.ambiguous, c.served = c.ambiguous[:0], c.served-len(c.ambiguous)
	}
	return amb
}

func (c *framingConn) feed(b []byte) {
	for len(b) > 0 && c.state != stOff {
		switch c.state {
		case stBody, stChunkData:
			skip := int64(len(b))
			if skip > c.remaining {
				skip = c.remaining
			}
			c.remaining -= skip
			b = b[skip:]
			if c.remaining == 0 {
				c.state = map[framingState]framingState{stBody: stHead, stChunkData: stChunkSize}[c.state]
			}
		default:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.appendLine(b)
				return
			}
			c.appendLine(b[:i])
			b = b[i+1:]
			line := bytes.TrimSuffix(c.line, []byte("\r"))
			c.line = c.line[:0]
			c.endLine(line)
		}
	}
}

func (c *framingConn) appendLine(b []byte) {
	if len(c.line)+len(b) > maxHeadLine {
		c.state = stOff
		return
	}
	c.line = append(c.line, b...)
}

func (c *framingConn) endLine(line []byte) {
	switch c.state {
	case stHead:
		c.headLine(line)
	case stChunkSize:
		c.chunkSize(line)
	case stTrailer:
		if len(line) == 0 {
			c.state = stHead
		}
	}
}

func (c *framingConn) headLine(line []byte) {
	if len(line) == 0 {
		if c.lineCount > 0 {
			c.endHead()
		}
		return // an empty line before a request line is allowed and ignored
	}
	c.lineCount++
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok || c.lineCount == 1 {
		return // the request line
	}
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		c.sawCL = true
		n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
		if err == nil && n >= 0 {
			c.remaining = n
		}
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		c.sawTE = true
		v := bytes.ToLower(bytes.TrimSpace(value))
		c.chunked = bytes.HasSuffix(v, []byte("chunked"))
	}
}

func (c *framingConn) endHead() {
	ambiguous := c.sawCL && c.sawTE
	c.ambiguous = append(c.ambiguous, ambiguous)
	switch {
	case ambiguous || (c.sawTE && !c.chunked):
		c.state = stOff // answered and closed (or refused by net/http)
	case c.sawTE:
		c.state = stChunkSize
	case c.sawCL && c.remaining > 0:
		c.state = stBody
	default:
		c.state = stHead
	}
	c.sawCL, c.sawTE, c.chunked, c.lineCount = false, false, false, 0
}

func (c *framingConn) chunkSize(line []byte) {
	size, _, _ := bytes.Cut(line, []byte(";"))
	n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
	switch {
	case err != nil || n < 0:
		c.state = stOff
	case n == 0:
		c.state = stTrailer
	default:
		c.remaining = n + 2 // the data and its CRLF
		c.state = stChunkData
	}
}
