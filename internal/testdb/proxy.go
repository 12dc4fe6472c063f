package testdb

import (
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a free local port to a server, and can cut them: a
// database "outage" a test controls without touching the shared server.
type Proxy struct {
	t      testing.TB
	target string
	Port   int

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]bool
	refuse  int // connections still to close as they come (Refuse)
	refused int
	wg      sync.WaitGroup
}

// StartProxy forwards a free port on 127.0.0.1 to target (host:port); it stops on cleanup.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	p.listen("127.0.0.1:0")
	t.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Via rewrites a URL's host to go through the proxy.
func (p *Proxy) Via(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	u.Host = "127.0.0.1:" + strconv.Itoa(p.Port)
	return u.String()
}

func (p *Proxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln, p.Port = ln, ln.Addr().(*net.TCPAddr).Port
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if p.refuseOne() {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// Refuse closes the next n connections as they come, before a byte passes: a connect that
// fails while the server stays up.
func (p *Proxy) Refuse(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = n
}

// Refused counts the connections Refuse closed.
func (p *Proxy) Refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

func (p *Proxy) refuseOne() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refuse == 0 {
		return false
	}
	p.refuse--
	p.refused++
	return true
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// Cut closes every connection and stops listening: new connections are refused.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// Restore listens again on the same port.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.listen("127.0.0.1:" + strconv.Itoa(p.Port))
}
