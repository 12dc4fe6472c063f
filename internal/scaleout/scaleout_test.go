package scaleout_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// loadWorkers is how many clients send requests at once, spread over the instances.
const loadWorkers = 6

var stateChangeRe = regexp.MustCompile(`"msg":"redis (unavailable|available again)`)

// load is traffic over the cluster: writes of uniquely named products and reads, each answer
// recorded with the phase it fell in.
type load struct {
	c       *cluster
	phase   atomic.Value // string
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []result
	acked   []string // names of products whose creation was answered 201
	seq     atomic.Int64
}

type result struct {
	phase, method string // phase: when the request was sent
	answered      string // the phase when its answer came
	status        int
	retryAfter    string
	elapsed       time.Duration
}

func startLoad(c *cluster) *load {
	l := &load{c: c, stop: make(chan struct{})}
	l.phase.Store("normal")
	for w := range loadWorkers {
		l.wg.Add(1)
		go l.worker(w)
	}
	return l
}

func (l *load) worker(w int) {
	defer l.wg.Done()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		inst, phase := w+i, l.phase.Load().(string) // the phase a request was sent in
		if i%2 == 0 {
			name := fmt.Sprintf("so-%d", l.seq.Add(1))
			r := l.c.call(inst, "POST", "/api/products", l.c.key, map[string]any{"name": name, "price": "1.00"})
			l.record(phase, "POST", r, name)
		} else {
			l.record(phase, "GET", l.c.call(inst, "GET", "/api/products?limit=5", l.c.key, nil), "")
		}
	}
}

func (l *load) record(phase, method string, r reply, name string) {
	res := result{phase: phase, answered: l.phase.Load().(string), method: method, status: r.status, elapsed: r.elapsed}
	if r.header != nil {
		res.retryAfter = r.header.Get("Retry-After")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, res)
	if method == "POST" && r.status == http.StatusCreated {
		l.acked = append(l.acked, name)
	}
}

// during runs the load in phase for d, with act done at its start.
func (l *load) during(phase string, d time.Duration, act func()) {
	l.phase.Store(phase)
	if act != nil {
		act()
	}
	time.Sleep(d) // the load runs for this long in this phase: duration is the point here
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

// summary reports, per phase and method, the count, the statuses and the p99 latency.
func (l *load) summary(t *testing.T) map[string][]result {
	byPhase := map[string][]result{}
	for _, r := range l.results {
		byPhase[r.phase+" "+r.method] = append(byPhase[r.phase+" "+r.method], r)
	}
	for k, rs := range byPhase {
		statuses := map[int]int{}
		lat := make([]time.Duration, len(rs))
		for i, r := range rs {
			statuses[r.status]++
			lat[i] = r.elapsed
		}
		slices.Sort(lat)
		t.Logf("%-22s %5d requests, statuses %v, p50 %s, p99 %s", k, len(rs), statuses,
			lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
	}
	return byPhase
}

// The cluster under load loses its Redis (paused, then stopped) and its database connections:
// nothing answers 500, outages answer 503 with Retry-After, every acknowledged write exists
// exactly once, limits hold within their documented bounds in each state, and a logout reaches
// every instance within its bound.
func TestClusterUnderLoadSurvivesOutages(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	l := startLoad(c)
	l.during("normal", time.Second, nil)
	c.checkSharedLimits("normal")
	c.checkRevocation("normal")

	down, back := c.counts("redis unavailable"), c.counts("redis available again")
	l.during("redis-paused", 1500*time.Millisecond, c.redis.Pause)
	c.waitMore("redis unavailable", down)
	c.checkLocalLimits("redis-paused")
	c.checkLoginBackOff()
	c.checkRevocation("redis-paused")
	c.redis.Resume()
	c.waitMore("redis available again", back)

	down, back = c.counts("redis unavailable"), c.counts("redis available again")
	l.during("redis-stopped", time.Second, c.redis.Stop)
	c.waitMore("redis unavailable", down)
	c.checkLocalLimits("redis-stopped")
	c.redis.Start()
	c.waitMore("redis available again", back)

	l.phase.Store("db-killed")
	killed := 0
	for range 4 {
		killed += c.killBackends()
		time.Sleep(400 * time.Millisecond) // let the load meet the freshly killed connections
	}
	t.Logf("terminated %d PostgreSQL sessions of the cluster", killed)
	require.Positive(t, killed)
	l.during("healed", time.Second, nil)
	c.checkRevocation("healed")
	l.finish()

	c.checkResults(t, l)
	c.checkWritesExactlyOnce(t, l)
	c.checkLogs(t)
}

func (c *cluster) checkResults(t *testing.T, l *load) {
	byPhase := l.summary(t)
	for k, rs := range byPhase {
		for _, r := range rs {
			require.NotEqual(t, -1, r.status, "%s: the connection failed", k)
			require.True(t, r.status < 500 || r.status == http.StatusServiceUnavailable, "%s answered %d", k, r.status)
			if r.status == http.StatusServiceUnavailable {
				// In flight when the kills began, or on a pooled connection killed while idle
				// and first used after them.
				require.Contains(t, []string{"db-killed", "healed"}, r.answered, "only a database outage is 503")
				require.NotEmpty(t, r.retryAfter, "503 comes with Retry-After")
			}
		}
	}
	require.NotEmpty(t, byPhase["redis-paused GET"])
}

func (c *cluster) checkWritesExactlyOnce(t *testing.T, l *load) {
	rows, err := c.db.conn.Query(context.Background(), "SELECT name, COUNT(*) FROM products WHERE name LIKE 'so-%' GROUP BY name")
	require.NoError(t, err)
	stored := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		require.NoError(t, rows.Scan(&name, &n))
		stored[name] = n
	}
	require.NoError(t, rows.Err())
	for name, n := range stored {
		require.Equal(t, 1, n, "%s is stored once", name)
	}
	for _, name := range l.acked {
		require.Equal(t, 1, stored[name], "acknowledged write %s exists exactly once", name)
	}
	t.Logf("%d writes acknowledged, %d stored (a write whose connection died at commit may be stored unacknowledged)",
		len(l.acked), len(stored))
}

func (c *cluster) checkLogs(t *testing.T) {
	for i, p := range c.procs {
		// One line per state change: down and back alternate. A starved machine may miss the
		// deadline now and then, which is an outage of its own, so there may be more than two.
		states := stateChangeRe.FindAllStringSubmatch(p.out.String(), -1)
		require.GreaterOrEqual(t, len(states), 4, "%s: the pause and the stop each logged", p.name)
		for j, m := range states {
			want := map[bool]string{true: "unavailable", false: "available again"}[j%2 == 0]
			require.Equal(t, want, m[1], "%s: state change %d", p.name, j)
		}
		require.Zero(t, c.linesOf(i, "rate limiter unavailable"), "%s: no line per request", p.name)
		for _, line := range splitLines(p.out.String()) {
			if line[0] != '{' {
				require.Regexp(t, `^(✓|!) `, line, "%s: only JSON log lines and the CLI's own lines", p.name)
			}
		}
	}
}
