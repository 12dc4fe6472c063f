package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// request builds the i-th request of a worker.
type request func(rng *rand.Rand) (method, path string, body []byte)

type scenario struct {
	name           string
	baseline, kiln func(ids []string) request
}

func pick(ids []string, rng *rand.Rand) string { return ids[rng.IntN(len(ids))] }

func scenarios() []scenario {
	get := func(ids []string) request {
		return func(rng *rand.Rand) (string, string, []byte) { return "GET", "/api/products/" + pick(ids, rng), nil }
	}
	patch := func(ids []string) request {
		return func(rng *rand.Rand) (string, string, []byte) {
			return "PATCH", "/api/products/" + pick(ids, rng), []byte(fmt.Sprintf(`{"price":%d.%02d}`, rng.IntN(500), rng.IntN(100)))
		}
	}
	create := func([]string) request {
		return func(rng *rand.Rand) (string, string, []byte) {
			return "POST", "/api/products", []byte(fmt.Sprintf(`{"name":"Load %d","price":12.34,"stock":3}`, rng.Int()))
		}
	}
	fixed := func(path string) func([]string) request {
		return func([]string) request {
			return func(*rand.Rand) (string, string, []byte) { return "GET", path, nil }
		}
	}
	return []scenario{
		{"get by id", get, get},
		{"list page (20)", fixed("/api/products?limit=20"), fixed("/api/products?limit=20")},
		{"filter + sort (indexed)", fixed("/api/products?limit=20&min_price=50"), fixed("/api/products?limit=20&filter=price%20%3E%2050&sort=price")},
		{"create", create, create},
		{"patch", patch, patch},
	}
}

type result struct {
	count    int
	errors   int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration
}

func (r result) rps() float64 { return float64(r.count) / r.elapsed.Seconds() }

func (r result) pct(p int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, len(r.lat)*p/100)]
}

// load runs a closed loop of workers against base for d and collects latencies.
func load(base, token string, next request, workers int, d time.Duration) result {
	// Compression off: both servers send identity bodies, so the table compares the work they share.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true}}
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var total result
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var local result
			for time.Now().Before(deadline) {
				method, path, body := next(rng)
				t0 := time.Now()
				err := send(client, method, base+path, body, token)
				local.lat = append(local.lat, time.Since(t0))
				local.count++
				if err != nil {
					local.errors++
					local.firstErr = err
				}
			}
			mu.Lock()
			total.count += local.count
			total.errors += local.errors
			total.lat = append(total.lat, local.lat...)
			if local.firstErr != nil {
				total.firstErr = local.firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	slices.Sort(total.lat)
	client.CloseIdleConnections()
	return total
}

func send(c *http.Client, method, url string, body []byte, token string) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token) // writes need a staff account
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
