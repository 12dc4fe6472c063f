package kiln_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// stripeMock is github.com/stripe/stripe-mock (installed by scripts/test.sh; KILN_STRIPE_MOCK
// names the binary) behind a recording proxy: stripe-mock validates each request against
// Stripe's OpenAPI and answers fixtures, statelessly, so the tests assert on what Kiln sent.
type stripeMock struct {
	t       *testing.T
	proxy   *httptest.Server
	mu      sync.Mutex
	calls   []stripeCall
	answers map[string][]stripeAnswer // by "METHOD path": given instead of stripe-mock's, in turn
}

// stripeAnswer is an answer the proxy gives in stripe-mock's place: one stripe-mock cannot
// be asked for (it is stateless and valid requests succeed), such as Stripe's error answers.
type stripeAnswer struct {
	status int
	body   string
}

// stripeCall is one request Kiln made to Stripe.
type stripeCall struct {
	Method, Path   string
	Form           url.Values
	IdempotencyKey string
	Auth           string
	Status         int
}

func stripeMockBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("KILN_STRIPE_MOCK"); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath("stripe-mock"); err == nil {
		return bin
	}
	if os.Getenv("KILN_REQUIRE_SERVICES") == "1" {
		t.Fatal("stripe-mock is required (KILN_REQUIRE_SERVICES=1): scripts/test.sh installs it and sets KILN_STRIPE_MOCK")
	}
	t.Skip("SKIPPED: stripe-mock not installed (scripts/test.sh installs it into .tools/bin and sets KILN_STRIPE_MOCK)")
	return ""
}

// startStripeMock starts stripe-mock on two free loopback ports (it binds every interface
// unless both addresses are given) and a recording proxy in front of it.
func startStripeMock(t *testing.T) *stripeMock {
	t.Helper()
	bin := stripeMockBinary(t)
	// stripe-mock loads Stripe's whole OpenAPI document before it answers, and the payment tests
	// start one each, in parallel: on a loaded 2-core CI machine that once took over 30 s.
	addrs, _ := startPeer(t, "stripe-mock", 2, 2*time.Minute, func(a []string) *exec.Cmd {
		return exec.Command(bin, "-http-addr", a[0], "-https-addr", a[1])
	}, func(a []string) bool {
		req, _ := http.NewRequest("GET", "http://"+a[0]+"/v1/customers", nil)
		req.SetBasicAuth("sk_test_ready", "")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	httpAddr := addrs[0]
	m := &stripeMock{t: t, answers: map[string][]stripeAnswer{}}
	target, _ := url.Parse("http://" + httpAddr)
	rp := httputil.NewSingleHostReverseProxy(target)
	m.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if a, ok := m.nextAnswer(r.Method + " " + r.URL.Path); ok {
			rec.Header().Set("Content-Type", "application/json")
			rec.Header().Set("Request-Id", "req_injected")
			rec.WriteHeader(a.status)
			_, _ = io.WriteString(rec, a.body)
		} else {
			rp.ServeHTTP(rec, r)
		}
		m.mu.Lock()
		m.calls = append(m.calls, stripeCall{Method: r.Method, Path: r.URL.Path, Form: form,
			IdempotencyKey: r.Header.Get("Idempotency-Key"), Auth: r.Header.Get("Authorization"), Status: rec.status})
		m.mu.Unlock()
	}))
	t.Cleanup(m.proxy.Close)
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// Answer makes the proxy answer the next times requests of method and path with status
// and body instead of stripe-mock.
func (m *stripeMock) Answer(method, path string, times, status int, body string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range times {
		m.answers[method+" "+path] = append(m.answers[method+" "+path], stripeAnswer{status: status, body: body})
	}
}

func (m *stripeMock) nextAnswer(key string) (stripeAnswer, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.answers[key]
	if len(q) == 0 {
		return stripeAnswer{}, false
	}
	m.answers[key] = q[1:]
	return q[0], true
}

// stripeErrorBody is an error answer as Stripe writes it.
func stripeErrorBody(typ, code, param string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"type": typ, "code": code, "param": param,
		"message": "injected by the test proxy (" + code + ")"}})
	return string(b)
}

// URL is the API base Kiln is configured with.
func (m *stripeMock) URL() string { return m.proxy.URL }

// Calls returns the requests made to path so far.
func (m *stripeMock) Calls(path string) []stripeCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []stripeCall
	for _, c := range m.calls {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}
