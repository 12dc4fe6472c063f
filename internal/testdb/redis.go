package testdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is used when KILN_TEST_REDIS_URL is unset.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// RedisURL returns the test Redis URL after checking the server answers; tests use their own
// key prefixes rather than flushing a shared server.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("KILN_TEST_REDIS_URL")
	if u == "" {
		u = DefaultRedisURL
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("KILN_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(t, "Redis", err)
	}
	return u
}

// Redis returns a client for the test Redis, closed on cleanup.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opts, _ := redis.ParseURL(RedisURL(t))
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// PrivateRedis is a redis-server of the test's own, on a free port, that the test may pause,
// stop and start again: the shared test Redis must never be paused or stopped.
type PrivateRedis struct {
	t    testing.TB
	Port int
	cmd  *exec.Cmd
	dir  string
}

// StartPrivateRedis starts a private redis-server (skipped, or failed with
// KILN_REQUIRE_SERVICES=1, when redis-server is not installed); it is killed on cleanup.
func StartPrivateRedis(t testing.TB) *PrivateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, "redis-server", err)
	}
	r := &PrivateRedis{t: t, Port: privatePort(t), dir: t.TempDir()}
	r.Start()
	t.Cleanup(func() {
		if r.cmd != nil {
			_ = r.cmd.Process.Signal(syscall.SIGCONT)
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	return r
}

// Ports for private servers are drawn from below the kernel's ephemeral range: a port there
// is never handed to a listener on port 0 or to an outgoing connection, so no other test takes
// it while its server is stopped (one did: a Start found another test's HTTP server there).
const privatePortLow = 20000

var privatePorts sync.Map // port → struct{}: handed out in this process

// privatePort is a free port that no other private server of this process was given.
func privatePort(t testing.TB) int {
	t.Helper()
	high := ephemeralLow()
	for i := 0; i < 200 && high > privatePortLow; i++ {
		p := privatePortLow + rand.IntN(high-privatePortLow)
		if _, taken := privatePorts.LoadOrStore(p, struct{}{}); taken {
			continue
		}
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			_ = ln.Close()
			return p
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // no room below the ephemeral range
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's default when it
// cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// URL is the server's redis:// URL.
func (r *PrivateRedis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Start starts the server (again, after Stop) on its port and waits until it answers.
func (r *PrivateRedis) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(r.Port),
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", "")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.Port)})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("private redis-server on port %d does not answer: %v", r.Port, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a server coming up: there is no signal to wait on
	}
}

// Pause freezes the server (SIGSTOP): connections stay open and nothing answers.
func (r *PrivateRedis) Pause() { r.signal(syscall.SIGSTOP) }

// Resume thaws a paused server.
func (r *PrivateRedis) Resume() { r.signal(syscall.SIGCONT) }

// Stop kills the server: connections are refused until Start.
func (r *PrivateRedis) Stop() {
	r.t.Helper()
	r.signal(syscall.SIGCONT)
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func (r *PrivateRedis) signal(sig os.Signal) {
	r.t.Helper()
	if r.cmd == nil {
		r.t.Fatalf("private redis-server is not running")
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signal redis-server: %v", err)
	}
}
