package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// request builds a worker's next request.
type request func(w worker) (method, path string, body []byte)

// worker is one connection of the closed loop: its index among count, and its randomness.
type worker struct {
	index, count int
	rng          *rand.Rand
}

// flavor is how one server spells the benchmark's requests.
type flavor struct {
	item         func(id string) string // a record's path
	list, filter string                 // a page of 20; a page of 20 filtered on price > 50, sorted by price
	collection   string                 // where creates go
	bearer       bool                   // "Bearer <token>" (else the bare token)
}

var (
	kilnPaths = flavor{item: func(id string) string { return "/api/products/" + id },
		list: "/api/products?limit=20", filter: "/api/products?limit=20&filter=price%20%3E%2050&sort=price",
		collection: "/api/products", bearer: true}
	baselinePaths = flavor{item: kilnPaths.item, list: kilnPaths.list, filter: "/api/products?limit=20&min_price=50",
		collection: "/api/products", bearer: true}
	pocketbasePaths = flavor{item: func(id string) string { return "/api/collections/products/records/" + id },
		list:       "/api/collections/products/records?perPage=20&skipTotal=1",
		filter:     "/api/collections/products/records?perPage=20&skipTotal=1&filter=price%3E50&sort=price",
		collection: "/api/collections/products/records"}
)

type scenario struct {
	name string
	make func(f flavor, ids []string) request
}

func pick(ids []string, rng *rand.Rand) string { return ids[rng.IntN(len(ids))] }

// pickOwn picks among the worker's own share of ids (every count-th one from its index), so
// no two workers write the same record at once: on PostgreSQL Kiln answers a PATCH that
// loses such a race with 412 (it updates on the version it read), which the baseline's
// single UPDATE never meets. See docs/performance.md.
func pickOwn(ids []string, w worker) string {
	n := max(1, len(ids)/w.count)
	return ids[min(len(ids)-1, w.index+w.count*w.rng.IntN(n))]
}

func scenarios() []scenario {
	fixed := func(path func(flavor) string) func(flavor, []string) request {
		return func(f flavor, _ []string) request {
			p := path(f)
			return func(worker) (string, string, []byte) { return "GET", p, nil }
		}
	}
	return []scenario{
		{"get by id", func(f flavor, ids []string) request {
			return func(w worker) (string, string, []byte) { return "GET", f.item(pick(ids, w.rng)), nil }
		}},
		{"list page (20)", fixed(func(f flavor) string { return f.list })},
		{"filter + sort (indexed)", fixed(func(f flavor) string { return f.filter })},
		{"create", func(f flavor, _ []string) request {
			return func(w worker) (string, string, []byte) {
				return "POST", f.collection, fmt.Appendf(nil, `{"name":"Load %d","price":12.34,"stock":3}`, w.rng.Int())
			}
		}},
		{"patch", func(f flavor, ids []string) request {
			return func(w worker) (string, string, []byte) {
				return "PATCH", f.item(pickOwn(ids, w)), fmt.Appendf(nil, `{"price":%d.%02d}`, w.rng.IntN(500), w.rng.IntN(100))
			}
		}},
	}
}

type result struct {
	count    int
	errors   int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration
	cpu      time.Duration // the server process's CPU time during the run
	dbCPU    time.Duration // its PostgreSQL backends' CPU time during the run (0 on SQLite)
	peakKiB  int           // the server's largest resident set during the run
}

func (r result) rps() float64 { return float64(r.count) / r.elapsed.Seconds() }

// cpuPerReq is the server process's CPU time per request in µs.
func (r result) cpuPerReq() float64 { return perReq(r.cpu, r.count) }

// dbPerReq is its PostgreSQL backends' CPU time per request in µs.
func (r result) dbPerReq() float64 { return perReq(r.dbCPU, r.count) }

func perReq(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}

func (r result) pct(p int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, len(r.lat)*p/100)]
}

// load runs a closed loop of workers against s for d and collects latencies, the server's
// CPU time and its peak resident set.
func load(s *server, next request, workers int, d time.Duration) result {
	// Compression off: every server sends identity bodies, so the table compares the work they share.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true}}
	defer client.CloseIdleConnections()
	auth := s.token
	if s.paths.bearer {
		auth = "Bearer " + auth
	}
	var mu sync.Mutex
	var total result
	var wg sync.WaitGroup
	ctx, stopSampling := context.WithCancel(context.Background())
	peak := s.peakDuring(ctx)
	db0 := s.dbCPU()
	cpu0, start := s.cpuTime(), time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			me := worker{index: w, count: workers, rng: rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))}
			var local result
			for time.Now().Before(deadline) {
				method, path, body := next(me)
				t0 := time.Now()
				err := send(client, method, s.url+path, body, auth)
				local.lat = append(local.lat, time.Since(t0))
				local.count++
				if err != nil {
					local.errors++
					local.firstErr = err
				}
			}
			mu.Lock()
			defer mu.Unlock()
			total.count += local.count
			total.errors += local.errors
			total.lat = append(total.lat, local.lat...)
			if local.firstErr != nil {
				total.firstErr = local.firstErr
			}
		})
	}
	wg.Wait()
	total.elapsed, total.cpu = time.Since(start), s.cpuTime()-cpu0
	total.dbCPU = s.dbCPUSince(db0)
	stopSampling()
	total.peakKiB = <-peak
	slices.Sort(total.lat)
	return total
}

func send(c *http.Client, method, url string, body []byte, auth string) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth) // writes need a signed-in account
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d", method, url, res.StatusCode)
	}
	return nil
}
