package store

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"
)

// A write transaction on PostgreSQL used to cost a round trip for BEGIN alone before its first
// statement. beginConn, the network connection under each pooled pgx connection, lets BEGIN
// travel in the same packet as the transaction's first statement instead: a lazily begun
// transaction (beginTx) queues BEGIN's Parse, Bind and Execute messages, the next write puts them
// in front of the statement's own messages, and the next reads drop BEGIN's three answers before
// pgx sees the stream.
//
// BEGIN goes without a Sync of its own, so it and the statement are one extended-protocol
// sequence: when BEGIN fails, the server skips everything up to the statement's Sync and the
// statement never runs outside a transaction. That is why only a write that opens with an
// extended-protocol message (Parse or Bind) takes the queued BEGIN; a simple-protocol Query is
// preceded by a BEGIN of its own (lazyConn.ExecContext), and one that would go out while BEGIN
// waits is refused (errSimpleInTx): failing is better than running outside the transaction.

// beginMessages is BEGIN as Parse, Bind and Execute of the unnamed statement and portal (pgx's
// next Parse or Bind replaces both).
var beginMessages = encodeBegin("begin")

// encodeBegin is q as Parse, Bind and Execute of the unnamed statement and portal, no Sync.
func encodeBegin(q string) []byte {
	var b []byte
	var err error
	for _, m := range []pgproto3.FrontendMessage{&pgproto3.Parse{Query: q}, &pgproto3.Bind{}, &pgproto3.Execute{}} {
		if b, err = m.Encode(b); err != nil {
			panic(err) // only for a statement longer than the protocol allows; q is fixed text
		}
	}
	return b
}

// beginAnswers is how many messages the server answers BEGIN with: ParseComplete, BindComplete
// and CommandComplete, in this order.
var beginAnswers = [...]byte{'1', '2', 'C'}

// beginConn is a net.Conn that can send a queued BEGIN ahead of the next extended-protocol
// write and hide its answers from the reader. Writes are serial and so are reads (pgx reads
// from one goroutine at a time), but a read may run while a write does.
type beginConn struct {
	net.Conn
	mu      sync.Mutex
	queued  bool   // BEGIN waits for the next extended-protocol write
	wbuf    []byte // BEGIN and the write it goes with
	answers answerFilter
	alone   atomic.Bool // a statement alone runs (aloneWatch); its transaction's end clears it
}

func newBeginConn(c net.Conn) *beginConn { return &beginConn{Conn: c} }

// queue makes the next extended-protocol write carry BEGIN. The connection must be idle.
func (c *beginConn) queue() {
	c.mu.Lock()
	c.queued = true
	c.mu.Unlock()
}

// isQueued reports whether BEGIN waits for the next extended-protocol write.
func (c *beginConn) isQueued() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// unqueue takes back a BEGIN not sent yet and reports whether there was one.
func (c *beginConn) unqueue() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.queued {
		return false
	}
	c.queued = false
	return true
}

// errSimpleInTx refuses a simple-protocol query while BEGIN waits: it would run outside the
// transaction (lazyConn sends BEGIN first for the statements that go that way).
var errSimpleInTx = errors.New("postgres: a simple-protocol query cannot carry a queued BEGIN")

func (c *beginConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.queued && len(p) > 0 && p[0] == 'Q' {
		c.mu.Unlock()
		return 0, errSimpleInTx
	}
	send := c.queued && len(p) > 0 && (p[0] == 'P' || p[0] == 'B')
	begin := beginMessages
	if send {
		// The filter starts now, not when BEGIN was queued: pgx may write and read something
		// else first (it deallocates statements an error invalidated in a pipeline of their
		// own), and those answers are not BEGIN's. BEGIN's can only come after this write,
		// and a read hands anything over only after it took the lock.
		c.queued = false
		c.answers.left = len(beginAnswers) // after any message still passing through
		c.wbuf = append(append(c.wbuf[:0], begin...), p...)
	}
	c.mu.Unlock()
	if !send {
		return c.Conn.Write(p)
	}
	n, err := c.Conn.Write(c.wbuf)
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil // a large first statement: do not keep its copy with the idle connection
	}
	return max(0, n-len(begin)), err
}

func (c *beginConn) Read(p []byte) (int, error) {
	for {
		if n, ok := c.pending(p); ok {
			return n, nil
		}
		n, err := c.Conn.Read(p)
		c.mu.Lock()
		if !c.answers.active() {
			c.mu.Unlock()
			return n, err
		}
		c.answers.feed(p[:n])
		n = copy(p, c.answers.out)
		c.answers.out = c.answers.out[n:]
		c.mu.Unlock()
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// pending hands out bytes the filter let through but a previous read had no room for.
func (c *beginConn) pending(p []byte) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.answers.out) == 0 {
		return 0, false
	}
	n := copy(p, c.answers.out)
	c.answers.out = c.answers.out[n:]
	return n, true
}

// answerFilter drops BEGIN's answers from the server's stream of messages and lets every other
// message through: asynchronous ones (notices, parameter changes, notifications) that may come
// first, and from an error on (BEGIN failed: the statement's reader gets the error) everything.
type answerFilter struct {
	left int    // answers of BEGIN still to drop
	hdr  []byte // the start of a message header not complete yet
	drop int    // bytes of the message being dropped still to come
	pass int    // bytes of the message being let through still to come
	out  []byte // bytes let through, not read yet
}

// active says the filter still has something to drop or hand out.
func (f *answerFilter) active() bool {
	return f.left > 0 || f.drop > 0 || f.pass > 0 || len(f.hdr) > 0 || len(f.out) > 0
}

func (f *answerFilter) feed(in []byte) {
	for len(in) > 0 {
		switch {
		case f.drop > 0:
			k := min(f.drop, len(in))
			f.drop, in = f.drop-k, in[k:]
		case f.pass > 0:
			k := min(f.pass, len(in))
			f.out, f.pass, in = append(f.out, in[:k]...), f.pass-k, in[k:]
		case f.left == 0:
			f.out, in = append(f.out, in...), nil
		default:
			k := min(5-len(f.hdr), len(in))
			f.hdr, in = append(f.hdr, in[:k]...), in[k:]
			if len(f.hdr) == 5 {
				f.header()
			}
		}
	}
}

// header decides what becomes of the message whose 5-byte header (type, length) is complete.
func (f *answerFilter) header() {
	typ, body := f.hdr[0], max(0, int(binary.BigEndian.Uint32(f.hdr[1:5]))-4)
	switch {
	case typ == beginAnswers[len(beginAnswers)-f.left]:
		f.left--
		f.drop = body
	case typ == 'N' || typ == 'S' || typ == 'A':
		f.out = append(f.out, f.hdr...)
		f.pass = body
	default: // an error, or anything else unexpected: hand the rest over untouched
		f.left = 0
		f.out = append(f.out, f.hdr...)
		f.pass = body
	}
	f.hdr = f.hdr[:0]
}
