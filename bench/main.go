// Command bench measures Kiln against a minimal hand-written net/http + SQLite server doing
// the same work on products with 10k rows: get by id, a list page, a filtered and sorted list
// on an indexed column, create and patch. Both run in this process, one after the other, each
// driven by the same closed-loop load generator; the table reports req/s, p50/p99 latency and
// Kiln's ratio to the baseline measured in the same run.
//
//	go run ./bench                      # 3s per scenario and server
//	go run ./bench -duration 10s -workers 32
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"
)

func main() {
	duration := flag.Duration("duration", 3*time.Second, "load time per scenario and server")
	workers := flag.Int("workers", 16, "concurrent connections")
	rows := flag.Int("rows", 10000, "products to seed")
	only := flag.String("only", "", "run only the scenario with this name")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the Kiln runs to this file")
	var jb jobsBench
	flag.IntVar(&jb.n, "jobs", 0, "measure the job queue instead: this many jobs end to end on SQLite and PostgreSQL")
	flag.IntVar(&jb.workers, "job-workers", 100, "workers of the job queue")
	flag.IntVar(&jb.enqueuers, "enqueuers", 8, "goroutines enqueuing jobs")
	flag.IntVar(&jb.batch, "batch", 1, "jobs per enqueue transaction")
	flag.DurationVar(&jb.cooldown, "fetch-cooldown", 5*time.Millisecond, "least time between two fetches of jobs")
	flag.DurationVar(&jb.poll, "fetch-poll", 50*time.Millisecond, "how often idle workers look for jobs")
	pg := flag.String("postgres", os.Getenv("KILN_TEST_POSTGRES_URL"), "PostgreSQL for -jobs (empty: SQLite only)")
	flag.Parse()
	if jb.n > 0 {
		if err := runJobsIn(*pg, jb, *cpuprofile); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*duration, *workers, *rows, *only, *cpuprofile); err != nil {
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

func run(duration time.Duration, workers, rows int, only, cpuprofile string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "kiln-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	base, err := openBaseline(filepath.Join(dir, "baseline.db"))
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	baseIDs, err := seedBaseline(base, rows)
	if err != nil {
		return err
	}
	kilnHandler, kilnIDs, kilnToken, closeKiln, err := startKiln(ctx, dir, rows)
	if err != nil {
		return fmt.Errorf("kiln: %w", err)
	}
	defer closeKiln()

	baseURL, stopBase := serve(base.handler())
	defer stopBase()
	kilnURL, stopKiln := serve(kilnHandler)
	defer stopKiln()

	fmt.Printf("products: %d rows; %d workers; %s per scenario and server; GOMAXPROCS=%d\n\n", rows, workers, duration, gomaxprocs())
	fmt.Printf("| scenario | baseline req/s | kiln req/s | kiln/baseline | baseline p50/p99 | kiln p50/p99 |\n")
	fmt.Printf("| --- | ---: | ---: | ---: | --- | --- |\n")
	targets := [2]target{{url: baseURL, ids: baseIDs, token: baselineToken()}, {url: kilnURL, ids: kilnIDs, token: kilnToken}}
	return measure(targets, workers, duration, only, cpuprofile)
}

// target is one server under load and the credentials its writes carry.
type target struct {
	url   string
	ids   []string
	token string
}

// measure runs each scenario on the baseline then on Kiln and prints a table row.
func measure(t [2]target, workers int, duration time.Duration, only, cpuprofile string) error {
	var prof *os.File
	if cpuprofile != "" {
		var err error
		if prof, err = os.Create(cpuprofile); err != nil {
			return err
		}
		defer prof.Close()
	}
	for _, sc := range scenarios() {
		if only != "" && sc.name != only {
			continue
		}
		b := load(t[0].url, t[0].token, sc.baseline(t[0].ids), workers, duration)
		if prof != nil {
			_ = pprof.StartCPUProfile(prof)
		}
		k := load(t[1].url, t[1].token, sc.kiln(t[1].ids), workers, duration)
		if prof != nil {
			pprof.StopCPUProfile()
			prof = nil
		}
		if b.errors > 0 || k.errors > 0 {
			return fmt.Errorf("%s: %d baseline and %d kiln requests failed (first: %v %v)", sc.name, b.errors, k.errors, b.firstErr, k.firstErr)
		}
		fmt.Printf("| %s | %.0f | %.0f | %.2f× | %s / %s | %s / %s |\n", sc.name, b.rps(), k.rps(), k.rps()/b.rps(),
			ms(b.pct(50)), ms(b.pct(99)), ms(k.pct(50)), ms(k.pct(99)))
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func serve(h http.Handler) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }
}
