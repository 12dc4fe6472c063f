// Command bench measures Kiln against a minimal hand-written net/http + SQLite server doing
// the same work and against PocketBase, on products with 10k rows: get by id, a list page, a
// filtered and sorted list on an indexed column, create and patch. Each server runs as its
// own process (Kiln is the real `kiln serve` binary, with its access log, request IDs, access
// rules, validation and rate limits on); this process only generates the load. Rounds
// alternate the servers' order, and the table reports medians: req/s, the server's CPU time
// per request (from /proc), p50/p99 latency and Kiln's ratios; then binary size, cold start
// and resident memory at idle and under load.
//
//	go run ./bench                      # 3 rounds of 3 s per scenario and server
//	go run ./bench -duration 10s -rounds 5 -pocketbase=false
//	go run ./bench -load=false          # binary size, cold start and idle memory only
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type options struct {
	duration   time.Duration
	workers    int
	rows       int
	rounds     int
	only       string
	pocketbase bool
	kilnBin    string
	idleWait   time.Duration
	load       bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "load time per round, scenario and server")
	flag.IntVar(&o.workers, "workers", 16, "concurrent connections")
	flag.IntVar(&o.rows, "rows", 10000, "products to seed")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds per scenario; servers alternate their order, the table shows medians")
	flag.StringVar(&o.only, "only", "", "run only the scenario with this name")
	flag.BoolVar(&o.pocketbase, "pocketbase", true, "include PocketBase "+pocketbaseVersion+" (installed into .tools/ on first use)")
	flag.BoolVar(&o.load, "load", true, "run the load scenarios (false: binary size, cold start and idle memory only)")
	flag.StringVar(&o.kilnBin, "kiln", "", "a kiln binary to measure (default: build ./cmd/kiln with CGO_ENABLED=0)")
	flag.DurationVar(&o.idleWait, "idle-wait", 2500*time.Millisecond, "how long after each start the idle resident set is read")
	var jb jobsBench
	flag.IntVar(&jb.n, "jobs", 0, "measure the job queue instead: this many jobs end to end on SQLite and PostgreSQL")
	flag.IntVar(&jb.workers, "job-workers", 100, "workers of the job queue")
	flag.IntVar(&jb.enqueuers, "enqueuers", 8, "goroutines enqueuing jobs")
	flag.IntVar(&jb.batch, "batch", 1, "jobs per enqueue transaction")
	flag.DurationVar(&jb.cooldown, "fetch-cooldown", 5*time.Millisecond, "least time between two fetches of jobs")
	flag.DurationVar(&jb.poll, "fetch-poll", 50*time.Millisecond, "how often idle workers look for jobs")
	pg := flag.String("postgres", os.Getenv("KILN_TEST_POSTGRES_URL"), "PostgreSQL for -jobs (empty: SQLite only)")
	cpuprofile := flag.String("cpuprofile", "", "with -jobs: write a CPU profile to this file")
	flag.Parse()
	if jb.n > 0 {
		if err := runJobsIn(*pg, jb, *cpuprofile); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runJobsIn(pgURL string, jb jobsBench, cpuprofile string) error {
	dir, err := os.MkdirTemp("", "kiln-bench-jobs-")
	if err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	defer os.RemoveAll(dir)
	return runJobs(dir, pgURL, jb)
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "kiln-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	servers, sizes, err := startAll(o, dir)
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	if err != nil {
		return err
	}
	mem, err := idle(servers, o.idleWait)
	if err != nil {
		return err
	}
	for i, s := range servers {
		mem[i].binary = sizes[s.name]
	}
	fmt.Printf("products: %d rows; %d workers; %d rounds of %s per scenario and server (medians); GOMAXPROCS=%d; %s\n\n",
		o.rows, o.workers, o.rounds, o.duration, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	var rows []row
	if o.load {
		if rows, err = measure(servers, o); err != nil {
			return err
		}
	}
	for i := range mem {
		for _, r := range rows {
			mem[i].peakKiB = max(mem[i].peakKiB, r.peak[i])
		}
	}
	printTables(servers, rows, mem)
	return nil
}

// startAll seeds and starts the baseline, Kiln and (optionally) PocketBase, each as its own
// process, and returns them with their binaries' sizes.
func startAll(o options, dir string) ([]*server, map[string]int64, error) {
	ctx := context.Background()
	sizes := map[string]int64{}
	kilnBin, err := kilnBinary(o.kilnBin, dir)
	if err != nil {
		return nil, nil, err
	}
	sizes["kiln"] = fileSize(kilnBin)
	base, baseBin, err := startBaseline(dir, o.rows)
	if err != nil {
		return nil, nil, err
	}
	sizes["baseline"] = fileSize(baseBin)
	servers := []*server{base}
	k, err := startKilnServer(ctx, kilnBin, dir, o.rows)
	if err != nil {
		return servers, nil, err
	}
	servers = append(servers, k)
	if o.pocketbase {
		bin, err := installPocketBase()
		if err != nil {
			return servers, nil, err
		}
		sizes["pocketbase"] = fileSize(bin)
		pb, err := startPocketBase(bin, dir, o.rows)
		if err != nil {
			return servers, nil, err
		}
		servers = append(servers, pb)
	}
	return servers, sizes, nil
}

// kilnBinary builds ./cmd/kiln (static, as the README suggests) unless one is given.
func kilnBinary(given, dir string) (string, error) {
	if given != "" {
		return given, nil
	}
	bin := filepath.Join(dir, "kiln-server")
	return bin, goBuild(bin, "./cmd/kiln")
}

// goBuild builds a static binary (CGO_ENABLED=0, as the README suggests for kiln).
func goBuild(out, pkg string) error {
	fmt.Fprintf(os.Stderr, "building %s…\n", pkg)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	return nil
}

// benchSecret signs the tokens of every server's writes.
const benchSecret = "bench-secret-0123456789abcdef-0123456789"

// baselineToken is an HS256 token the baseline accepts for writes.
func baselineToken() string {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "bench", "role": "staff",
		"exp": time.Now().Add(time.Hour).Unix(), "iss": "baseline", "aud": "shop"})
	s, _ := tok.SignedString([]byte(benchSecret))
	return s
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// startBaseline builds the baseline (bench/baseline) as its own binary, seeds its database
// and serves it.
func startBaseline(dir string, rows int) (*server, string, error) {
	bin := filepath.Join(dir, "baseline-server")
	if err := goBuild(bin, "./bench/baseline"); err != nil {
		return nil, "", err
	}
	db := filepath.Join(dir, "baseline.db")
	out, err := exec.Command(bin, "-db", db, "-seed", strconv.Itoa(rows)).Output()
	if err != nil {
		return nil, "", fmt.Errorf("seed the baseline: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	s, _, err := start(launch{name: "baseline", url: "http://" + addr, health: "/healthz", logPath: filepath.Join(dir, "baseline.log"),
		env: []string{"BASELINE_SECRET=" + benchSecret}, argv: []string{bin, "-db", db, "-addr", addr}})
	if err != nil {
		return nil, "", err
	}
	s.ids, s.token, s.paths = strings.Fields(string(out)), baselineToken(), baselinePaths
	return s, bin, nil
}

// startKilnServer seeds the shop's database, then serves it with the kiln binary: the shop's
// spec and committed migrations, its access log on stderr (kept in kiln.log), rate limits
// set very high.
func startKilnServer(ctx context.Context, bin, dir string, rows int) (*server, error) {
	ids, token, err := seedKiln(ctx, dir, rows)
	if err != nil {
		return nil, fmt.Errorf("kiln: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfg := kilnConfig(dir)
	env := append([]string{"KILN_AUTH_SECRET=" + benchSecret}, rateEnv...)
	s, _, err := start(launch{name: "kiln", url: "http://" + addr, health: "/healthz", logPath: filepath.Join(dir, "kiln.log"), env: env,
		argv: []string{bin, "serve", "--spec", cfg.SpecPath, "--data-dir", cfg.DataDir, "--migrations", cfg.MigrationsDir, "--addr", addr}})
	if err != nil {
		return nil, err
	}
	s.ids, s.token, s.paths = ids, token, kilnPaths
	return s, nil
}
