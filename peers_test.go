package kiln_test

import (
	"bytes"
	"os/exec"
	"testing"
	"time"
)

// peer is a test peer's process (stripe-mock, versitygw, Mailpit), killed when the test ends.
type peer struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	exited chan struct{}
}

// startPeer starts the process cmd builds for ports fresh loopback ports and waits up to
// within until ready holds; the ports are returned. A port freePort found free can be taken
// before the peer binds it (by another test's server, or as the local port of a connection):
// the peer then exits (stripe-mock: "bind: address already in use"), and waiting on it
// stalled a CI run for two minutes. A peer that exits before it is ready is started again
// on new ports, up to three times, its output logged.
func startPeer(t *testing.T, name string, ports int, within time.Duration,
	cmd func(addrs []string) *exec.Cmd, ready func(addrs []string) bool) ([]string, *peer) {
	t.Helper()
	for attempt := 1; attempt <= 3; attempt++ {
		addrs := make([]string, ports)
		for i := range addrs {
			addrs[i] = freePort(t)
		}
		p := runPeer(t, cmd(addrs))
		gone := false
		waitWithin(t, within, func() bool {
			select {
			case <-p.exited:
				gone = true
				return true
			default:
				return ready(addrs)
			}
		})
		if !gone {
			return addrs, p
		}
		t.Logf("%s on %v exited before it was ready: %s", name, addrs, p.out.String())
	}
	t.Fatalf("%s exited before it was ready, three times (its output is logged above)", name)
	return nil, nil
}

// runPeer starts c with its output kept and kills it when the test ends.
func runPeer(t *testing.T, c *exec.Cmd) *peer {
	t.Helper()
	p := &peer{cmd: c, exited: make(chan struct{})}
	c.Stdout, c.Stderr = &p.out, &p.out // one writer: os/exec writes it from one goroutine
	if err := c.Start(); err != nil {
		t.Fatalf("start %s: %v", c.Path, err)
	}
	go func() { _ = c.Wait(); close(p.exited) }()
	t.Cleanup(p.stop)
	return p
}

// stop kills the peer and waits for it.
func (p *peer) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}
