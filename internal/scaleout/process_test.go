package scaleout_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// root is the repository root, seen from this package's directory.
const root = "../.."

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// TestMain removes the kiln binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// kilnBinary builds cmd/kiln once per test binary, as a user would (`go build ./cmd/kiln`).
func kilnBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "kiln-scaleout-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kiln")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/kiln")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/kiln: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// watchedOutput collects a process's output and wakes whoever waits for a line in it.
type watchedOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newWatchedOutput() *watchedOutput { return &watchedOutput{changed: make(chan struct{})} }

func (w *watchedOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

func (w *watchedOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *watchedOutput) snapshot() (string, chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.changed
}

// proc is one running kiln process.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	out    *watchedOutput
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startKiln runs the kiln binary with args and env (added to a copy of this process's
// environment without its KILN_ variables). The process is killed on cleanup if still running.
func startKiln(t *testing.T, name string, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(kilnBinary(t), args...)
	cmd.Dir = root
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KILN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{t: t, name: name, cmd: cmd, out: newWatchedOutput(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start())
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// waitFor waits until the output matches re and returns the first submatch (or the match).
func (p *proc) waitFor(re *regexp.Regexp, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		text, changed := p.out.snapshot()
		if m := re.FindStringSubmatch(text); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-changed:
		case <-p.exited:
			if m := re.FindStringSubmatch(p.out.String()); m != nil {
				return m[len(m)-1]
			}
			p.t.Fatalf("%s exited (%v) before printing %s:\n%s", p.name, p.err, re, p.out.String())
		case <-deadline:
			p.t.Fatalf("%s did not print %s within %s:\n%s", p.name, re, timeout, p.out.String())
		}
	}
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %s:\n%s", p.name, timeout, p.out.String())
		return nil
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	require.NoError(p.t, p.wait(30*time.Second), "%s:\n%s", p.name, p.out.String())
}

var listeningRe = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// startServe starts `kiln serve` on a free port and waits until it listens; it returns the
// process and its base URL.
func startServe(t *testing.T, name string, env map[string]string, args ...string) (*proc, string) {
	t.Helper()
	p := startKiln(t, name, env, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	addr := p.waitFor(listeningRe, 90*time.Second)
	return p, "http://" + addr
}

// ready reports whether GET /readyz answers 200.
func ready(ctx context.Context, base string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}
