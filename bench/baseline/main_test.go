package main

import (
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
