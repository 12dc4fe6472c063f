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
//	go run ./bench -postgres URL        # then the same scenarios on PostgreSQL: Kiln against a pgx baseline
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
	baseBin    string
	idleWait   time.Duration
	idleSettle time.Duration
	load       bool
	sqlite     bool   // the SQLite set (and the footprint tables)
	pgURL      string // the PostgreSQL set after it, in databases of its own created there
	interrupt  *interruptHooks
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
	flag.StringVar(&o.baseBin, "baseline", "", "a baseline binary to measure (default: build ./bench/baseline with CGO_ENABLED=0)")
	flag.DurationVar(&o.idleWait, "idle-wait", 2500*time.Millisecond, "how long after each start the idle resident set is read")
	flag.DurationVar(&o.idleSettle, "idle-settle", 130*time.Second,
		"how long after its last start each server's resident set is read again (past Go's forced GC at 2 minutes and the first rounds of periodic work; 0: not read)")
	var jb jobsBench
	flag.IntVar(&jb.n, "jobs", 0, "measure the job queue instead: this many jobs end to end on SQLite and PostgreSQL")
	flag.IntVar(&jb.workers, "job-workers", 100, "workers of the job queue")
	flag.IntVar(&jb.enqueuers, "enqueuers", 8, "goroutines enqueuing jobs")
	flag.IntVar(&jb.batch, "batch", 1, "jobs per enqueue transaction")
	flag.DurationVar(&jb.cooldown, "fetch-cooldown", 5*time.Millisecond, "least time between two fetches of jobs")
	flag.DurationVar(&jb.poll, "fetch-poll", 50*time.Millisecond, "how often idle workers look for jobs")
	flag.BoolVar(&o.sqlite, "sqlite", true, "run the SQLite set (false: only the PostgreSQL set, with -postgres)")
	flag.StringVar(&o.pgURL, "postgres", os.Getenv("KILN_TEST_POSTGRES_URL"),
		"PostgreSQL for -jobs and for the load's PostgreSQL set, run after the SQLite set in databases created and dropped there (empty: SQLite only)")
	cpuprofile := flag.String("cpuprofile", "", "with -jobs: write a CPU profile to this file")
	flag.Parse()
	if jb.n > 0 {
		if err := runJobsIn(o.pgURL, jb, *cpuprofile); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	o.interrupt = &interruptHooks{}
	o.interrupt.watch()
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
	o.interrupt.add(func() { _ = os.RemoveAll(dir) })
	bins, err := buildBinaries(o.kilnBin, o.baseBin, dir)
	if err != nil {
		return err
	}
	fmt.Printf("products: %d rows; %d workers; %d rounds of %s per scenario and server (medians); GOMAXPROCS=%d; %s\n\n",
		o.rows, o.workers, o.rounds, o.duration, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	if o.sqlite {
		if err := runSQLite(o, dir, bins); err != nil {
			return err
		}
	}
	if o.pgURL != "" && o.load {
		return runPostgres(o, dir, bins)
	}
	return nil
}

// runSQLite measures the baseline, Kiln and PocketBase on SQLite: footprint, then load.
func runSQLite(o options, dir string, bins binaries) error {
	servers, err := startAll(o, dir, bins)
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	if err != nil {
		return err
	}
	mem, err := idle(servers, o.idleWait, o.idleSettle)
	if err != nil {
		return err
	}
	for i, s := range servers {
		mem[i].binary = bins.size[s.name]
	}
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
	fmt.Print("SQLite\n\n")
	printTables(servers, rows, mem)
	return nil
}

// binaries are the servers' executables and their sizes by server name.
type binaries struct {
	kiln, baseline string
	size           map[string]int64
}

func buildBinaries(kilnBin, baseBin, dir string) (binaries, error) {
	kiln, err := binary(kilnBin, filepath.Join(dir, "kiln-server"), "./cmd/kiln")
	if err != nil {
		return binaries{}, err
	}
	base, err := binary(baseBin, filepath.Join(dir, "baseline-server"), "./bench/baseline")
	if err != nil {
		return binaries{}, err
	}
	return binaries{kiln: kiln, baseline: base, size: map[string]int64{"kiln": fileSize(kiln), "baseline": fileSize(base)}}, nil
}

// startAll seeds and starts the baseline, Kiln and (optionally) PocketBase on SQLite, each as
// its own process.
func startAll(o options, dir string, bins binaries) ([]*server, error) {
	base, err := startBaseline(bins.baseline, dir, o.rows, []string{"-db", filepath.Join(dir, "baseline.db")})
	if err != nil {
		return nil, err
	}
	servers := []*server{base}
	k, err := startKilnServer(context.Background(), bins.kiln, dir, "", o.rows)
	if err != nil {
		return servers, err
	}
	servers = append(servers, k)
	if o.pocketbase {
		bin, err := installPocketBase()
		if err != nil {
			return servers, err
		}
		bins.size["pocketbase"] = fileSize(bin)
		pb, err := startPocketBase(bin, dir, o.rows)
		if err != nil {
			return servers, err
		}
		servers = append(servers, pb)
	}
	return servers, nil
}

// binary builds pkg into out (static, as the README suggests for kiln) unless one is given.
func binary(given, out, pkg string) (string, error) {
	if given != "" {
		return given, nil
	}
	return out, goBuild(out, pkg)
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

// startBaseline seeds the baseline's database (db: its -db or -postgres flag) and serves it.
func startBaseline(bin, dir string, rows int, db []string) (*server, error) {
	out, err := exec.Command(bin, append(db, "-seed", strconv.Itoa(rows))...).Output()
	if err != nil {
		return nil, fmt.Errorf("seed the baseline: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s, _, err := start(launch{name: "baseline", url: "http://" + addr, health: "/healthz", logPath: filepath.Join(dir, "baseline.log"),
		env: []string{"BASELINE_SECRET=" + benchSecret}, argv: append([]string{bin, "-addr", addr}, db...)})
	if err != nil {
		return nil, err
	}
	s.ids, s.token, s.paths = strings.Fields(string(out)), baselineToken(), baselinePaths
	return s, nil
}

// startKilnServer seeds the shop's database (SQLite in dir, or the PostgreSQL at dbURL), then
// serves it with the kiln binary: the shop's spec and committed migrations, its access log on
// stderr (kept in kiln.log), rate limits set very high.
func startKilnServer(ctx context.Context, bin, dir, dbURL string, rows int) (*server, error) {
	cfg := kilnConfig(dir)
	cfg.DatabaseURL = dbURL
	ids, token, err := seedKiln(ctx, cfg, rows)
	if err != nil {
		return nil, fmt.Errorf("kiln: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := append([]string{"KILN_AUTH_SECRET=" + benchSecret, "KILN_DATABASE_URL=" + dbURL}, rateEnv...)
	s, _, err := start(launch{name: "kiln", url: "http://" + addr, health: "/healthz", logPath: filepath.Join(dir, "kiln.log"), env: env,
		argv: []string{bin, "serve", "--spec", cfg.SpecPath, "--data-dir", cfg.DataDir, "--migrations", cfg.MigrationsDir, "--addr", addr}})
	if err != nil {
		return nil, err
	}
	s.ids, s.token, s.paths = ids, token, kilnPaths
	return s, nil
}
