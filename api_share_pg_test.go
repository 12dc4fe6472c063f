package kiln_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

// A table another session holds locked (a migration's ALTER TABLE) keeps its requests waiting,
// each on a pooled connection; they take no more than their resource's share of the pool, and
// requests to other tables go on meanwhile. (Without the share, 30 waiting product reads took
// all 16 connections and a category read waited for the lock to end.)
func TestALockedTableHoldsUpNoOtherTable(t *testing.T) {
	t.Parallel()
	b := setupInstances(t, 1)[0]
	b.product("Locked", "1", 1)
	cat := b.do("POST", "/api/categories", map[string]any{"name": "Open", "slug": "open"})
	require.Equal(t, http.StatusCreated, cat.status, string(cat.raw))

	lock := startTx(b)
	lock.run(t, func(tx *store.Exec) error {
		return tx.ExecRaw(context.Background(), "LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
	})
	var wg sync.WaitGroup
	statuses := make(chan int, 30)
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- b.do("GET", "/api/products?filter=name%20%3D%3D%20%22Locked%22", nil).status
		}()
	}
	time.Sleep(300 * time.Millisecond) // the product reads are waiting for the lock
	start := time.Now()
	got := b.do("GET", "/api/categories/"+cat.body["id"].(string), nil)
	took := time.Since(start)
	require.Equal(t, http.StatusOK, got.status, string(got.raw))
	list := b.do("GET", "/api/categories", nil)
	require.Equal(t, http.StatusOK, list.status, string(list.raw))
	require.Less(t, took, time.Second, "a category read did not wait for the products table")
	lock.commit(t)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, s, "a product read answered or ran out of time")
	}
}
