package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// launch says how to start one server under test as its own process: the load generator
// (this process) shares the machine with it, but not its CPU accounting or its heap.
type launch struct {
	name, url, health, logPath string
	env, argv                  []string
}

// server is a running server under test and what its requests need.
type server struct {
	launch
	token string
	ids   []string
	paths flavor
	db    *pgBackends // on PostgreSQL: the backends whose CPU counts as the server's
	cmd   *exec.Cmd
	done  chan error
}

// start runs the process, logging to logPath, and waits until GET url+health answers 200.
// It returns how long that took: the cold start.
func start(l launch) (*server, time.Duration, error) {
	logf, err := os.OpenFile(l.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(l.argv[0], l.argv[1:]...)
	cmd.Env = append(os.Environ(), l.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A server outlives no interrupted run: SIGTERM when the bench process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, 0, fmt.Errorf("%s: %w", l.name, err)
	}
	s := &server{launch: l, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); _ = logf.Close() }()
	if err := waitHealthy(l.url+l.health, s.done, 30*time.Second); err != nil {
		s.stop()
		return nil, 0, fmt.Errorf("%s did not start (log: %s): %w", l.name, l.logPath, err)
	}
	return s, time.Since(t0), nil
}

// restart stops s and starts it again on its (now up-to-date) data; it returns the cold start.
func (s *server) restart() (time.Duration, error) {
	s.stop()
	next, cold, err := start(s.launch)
	if err != nil {
		return 0, err
	}
	s.cmd, s.done = next.cmd, next.done
	return cold, nil
}

func waitHealthy(url string, exited <-chan error, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		default:
		}
		if res, err := client.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return errors.New("not healthy in time")
}

// stop ends the process with SIGTERM (SIGKILL after 10 s) and waits for it.
func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// cpuTime is the server process's user + system CPU time so far.
func (s *server) cpuTime() time.Duration { return procCPU(s.cmd.Process.Pid) }

// dbCPU is the CPU time so far of the server's PostgreSQL backends, by pid (nil on SQLite).
func (s *server) dbCPU() map[int]time.Duration {
	if s.db == nil {
		return nil
	}
	return s.db.cpu()
}

// dbCPUSince is the CPU time the server's PostgreSQL backends spent since before.
func (s *server) dbCPUSince(before map[int]time.Duration) time.Duration {
	if s.db == nil {
		return 0
	}
	return s.db.since(before)
}

// procCPU is a process's user + system CPU time so far (/proc/<pid>/stat, in clock ticks
// of 10 ms: Linux's USER_HZ is 100 on every architecture Go supports).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count fields after its closing parenthesis.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// memory is a process's resident set from /proc/<pid>/status, in KiB, and where it lies.
type memory struct {
	rss, anon, file int
	regions
}

// memory is the server's resident set with where it lies (status and smaps).
func (s *server) memory() memory {
	m := s.status()
	m.regions = s.regions()
	return m
}

// status reads the resident set's totals from /proc/<pid>/status alone: cheap enough to
// sample under load, where reading smaps every 50 ms walked the server's mappings (Kiln's
// larger binary's more than the others') on the cores the servers share.
func (s *server) status() memory {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		return memory{}
	}
	var m memory
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			m.rss = n
		case "RssAnon":
			m.anon = n
		case "RssFile":
			m.file = n
		}
	}
	return m
}

// regions is where a process's resident set lies (/proc/<pid>/smaps), in KiB: the
// executable's code, its read-only data (constants, type data, the function tables that
// stack growth and unwinding read), its writable data, anonymous memory (heap, stacks, the
// database's cache) and other files (the database, shared memory).
type regions struct{ code, rodata, data, anon, files int }

func (s *server) regions() regions {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/smaps")
	if err != nil {
		return regions{}
	}
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/exe")
	var r regions
	var into *int
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4:
			into = r.region(f, exe)
		case len(f) == 3 && f[0] == "Rss:" && into != nil:
			n, _ := strconv.Atoi(f[1])
			*into += n
		}
	}
	return r
}

// region picks the counter for the mapping of smaps header fields f.
func (r *regions) region(f []string, exe string) *int {
	path := ""
	if len(f) >= 6 {
		path = f[5]
	}
	switch {
	case path == exe && f[1] == "r-xp":
		return &r.code
	case path == exe && f[1] == "r--p":
		return &r.rodata
	case path == exe:
		return &r.data
	case path == "" || strings.HasPrefix(path, "["):
		return &r.anon
	}
	return &r.files
}

// peakDuring samples the resident set every 50 ms until ctx ends and returns the largest.
func (s *server) peakDuring(ctx context.Context) <-chan int {
	out := make(chan int, 1)
	go func() {
		peak := 0
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, s.status().rss)
			select {
			case <-ctx.Done():
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// freeAddr finds a free loopback port for a server to bind.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
