package scaleout_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/testdb"
)

// Limits the cluster runs with: the load uses an API key (a large budget of its own), the
// limit probes use fresh accounts (a small one).
const (
	accountLimit = 10
	clusterSize  = 3
	// revocationBound is docs/scaling.md's bound on a revoked session reaching every instance.
	revocationBound = 5 * time.Second
)

// cluster is clusterSize `kiln serve` processes on one database and one private Redis.
type cluster struct {
	t     *testing.T
	db    *database
	redis *testdb.PrivateRedis
	env   map[string]string
	procs []*proc
	urls  []string
	key   string // an admin API key for the load
	// migrations is the directory the instances share (dev mode wrote the schema's file there).
	migrations string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	var p [6]byte
	_, _ = rand.Read(p[:])
	c := &cluster{t: t, db: newDatabase(t), redis: testdb.StartPrivateRedis(t)}
	c.env = map[string]string{"KILN_DATABASE_URL": c.db.url, "KILN_REDIS_URL": c.redis.URL(),
		"KILN_REDIS_PREFIX": "kiln-scaleout-" + hex.EncodeToString(p[:]) + ":", "KILN_AUTH_SECRET": "scale-out-secret-0123456789abcdef-0123",
		"KILN_RATE_ACCOUNT": fmt.Sprintf("%d/min", accountLimit), "KILN_RATE_API_KEY": "1000000/min", "KILN_RATE_AUTH": "1000000/min",
		"KILN_RATE_ANONYMOUS": "1000000/min", "KILN_REDIS_TIMEOUT": "250ms"} // a starved test machine must not trip the breaker by itself
	migrations := t.TempDir()
	c.migrations = migrations
	for i := range clusterSize { // started at once, on an empty database
		c.procs = append(c.procs, startKiln(t, fmt.Sprintf("serve-%d", i), c.env, "serve", "--dev", "--spec", shopSpec,
			"--migrations", migrations, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"))
	}
	for _, p := range c.procs {
		c.urls = append(c.urls, "http://"+p.waitFor(listeningRe, 90*time.Second))
	}
	keys := startKiln(t, "keys", c.env, "keys", "create", "--spec", shopSpec, "--migrations", migrations,
		"--data-dir", t.TempDir(), "--name", "load", "--role", "admin", "--scope", "*:*")
	c.key = keys.waitFor(regexp.MustCompile(`(?m)^(kiln_\S+)$`), 60*time.Second)
	require.NoError(t, keys.wait(30*time.Second))
	return c
}

// reply is one answer, decoded when it is JSON.
type reply struct {
	status  int
	header  http.Header
	body    map[string]any
	elapsed time.Duration
}

// call sends one request to instance i (mod the cluster size) with an optional bearer credential.
func (c *cluster) call(i int, method, path, bearer string, body any) reply {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, c.urls[i%len(c.urls)]+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{status: -1, elapsed: time.Since(start)}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, elapsed: time.Since(start)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// signup signs a fresh customer up through instance i and returns its tokens.
func (c *cluster) signup(i int) (access, refresh, email string) {
	c.t.Helper()
	email = fmt.Sprintf("c-%d-%s@example.com", i, hex.EncodeToString(randomBytes(4)))
	r := c.call(i, "POST", "/api/auth/signup", "", map[string]any{"email": email, "password": "a long password"})
	require.Equal(c.t, http.StatusCreated, r.status, "%v", r.body)
	return r.body["access_token"].(string), r.body["refresh_token"].(string), email
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// linesOf counts the JSON log lines of instance i whose message starts with prefix.
func (c *cluster) linesOf(i int, prefix string) int {
	return strings.Count(c.procs[i].out.String(), `"msg":"`+prefix)
}

// counts returns, per instance, how many lines start with prefix.
func (c *cluster) counts(prefix string) []int {
	out := make([]int, len(c.procs))
	for i := range c.procs {
		out[i] = c.linesOf(i, prefix)
	}
	return out
}

// waitMore waits until every instance has logged a line starting with prefix since counts
// were taken (before).
func (c *cluster) waitMore(prefix string, before []int) {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		for i := range c.procs {
			if c.linesOf(i, prefix) <= before[i] {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "every instance logs %q", prefix)
}

// killBackends terminates every PostgreSQL session of the cluster's processes (and only those:
// they carry the test's application_name) and returns how many it killed.
func (c *cluster) killBackends() int {
	c.t.Helper()
	var n int
	err := c.db.conn.QueryRow(context.Background(),
		"SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
		c.db.appName).Scan(&n)
	require.NoError(c.t, err)
	return n
}
