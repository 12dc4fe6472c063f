package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// BenchmarkServeGet is the in-process view of the baseline's get by id, beside Kiln's
// BenchmarkServeRead/get (serve_bench_test.go): the same requests through the handler, no
// network, for comparing profiles.
//
//	go test -run '^$' -bench . -cpuprofile /tmp/base.pb ./bench/baseline
func BenchmarkServeGet(b *testing.B) {
	st, err := openBaseline(filepath.Join(b.TempDir(), "products.db"))
	if err != nil {
		b.Fatal(err)
	}
	ids, err := st.seed(200)
	if err != nil {
		b.Fatal(err)
	}
	h := handler(st)
	i := 0
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/products/"+ids[i%len(ids)], nil))
		i++
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkServeList is the baseline's list page (20), beside Kiln's BenchmarkServeRead/list.
//
//	go test -run '^$' -bench . -cpuprofile /tmp/base.pb ./bench/baseline
func BenchmarkServeList(b *testing.B) {
	st, err := openBaseline(filepath.Join(b.TempDir(), "products.db"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.seed(200); err != nil {
		b.Fatal(err)
	}
	h := handler(st)
	ctx, cancel := context.WithCancel(context.Background()) // as net/http's: it can end
	defer cancel()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/products?limit=20", nil))
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
