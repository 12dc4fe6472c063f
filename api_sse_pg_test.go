package kiln_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// setupInstances starts n servers of the shop on one PostgreSQL database.
func setupInstances(t *testing.T, n int) []*testBundle {
	t.Helper()
	dbURL := testdb.PostgresURL(t)
	migrations := filepath.Join(t.TempDir(), "migrations")
	out := make([]*testBundle, n)
	for i := range out {
		dir := t.TempDir()
		app, err := kiln.New(context.Background(), kiln.Config{SpecPath: filepath.Join("examples", "shop", "kiln.yaml"),
			DataDir: dir, MigrationsDir: migrations, Dev: true, LookupEnv: noEnv, AuthSecret: testSecret, DatabaseURL: dbURL})
		require.NoError(t, err)
		srv := httptest.NewServer(app.Handler())
		t.Cleanup(func() {
			srv.Close()
			require.NoError(t, app.Close())
		})
		out[i] = &testBundle{app: app, srv: srv, t: t, dataDir: dir}
		out[i].admin = out[i].token(app.Spec.Auth.AdminRoles[0])
	}
	return out
}

// An event written through one instance reaches a stream on another (NOTIFY wakes its poller).
func TestSSEReachesStreamsOnEveryInstance(t *testing.T) {
	t.Parallel()
	bs := setupInstances(t, 2)
	a, b := bs[0], bs[1]
	s := b.stream("/api/products/events")
	for i := range 3 {
		id := a.product("From A "+strconv.Itoa(i), "1", 1)
		m := s.next()
		require.Equal(t, id, m.data["record_id"])
		require.Equal(t, "create", m.event)
	}
}

// heldTx is a write transaction driven step by step from the test.
type heldTx struct {
	steps  chan func(*store.Exec) error
	result chan error
	done   chan error
	end    sync.Once
}

// startTx begins the transaction; a test that fails midway still ends it on cleanup.
func startTx(b *testBundle) *heldTx {
	h := &heldTx{steps: make(chan func(*store.Exec) error), result: make(chan error), done: make(chan error, 1)}
	b.t.Cleanup(func() {
		h.end.Do(func() { close(h.steps) })
	})
	go func() {
		h.done <- b.app.Store.InTx(context.Background(), func(tx *store.Exec) error {
			for fn := range h.steps {
				err := fn(tx)
				h.result <- err
				if err != nil {
					return err
				}
			}
			return nil
		})
	}()
	return h
}

func (h *heldTx) run(t *testing.T, fn func(*store.Exec) error) {
	t.Helper()
	h.steps <- fn
	require.NoError(t, <-h.result)
}

func (h *heldTx) commit(t *testing.T) {
	t.Helper()
	h.end.Do(func() { close(h.steps) })
	require.NoError(t, <-h.done)
}

// appendUpdate appends an update event of the product (its record as created) and returns its id.
func (h *heldTx) appendUpdate(t *testing.T, b *testBundle, product string) int64 {
	t.Helper()
	var created *events.Event
	for _, ev := range b.eventsAfter(0) {
		if ev.RecordID == product && ev.Operation == events.OpCreate {
			created = ev
		}
	}
	require.NotNil(t, created)
	ev := &events.Event{Resource: "products", Operation: "update", RecordID: product, Old: created.New, New: created.New, At: time.Now()}
	h.run(t, func(tx *store.Exec) error { return events.Append(context.Background(), tx, ev) })
	return ev.ID
}

func idText(id int64) string { return strconv.FormatInt(id, 10) }

// PostgreSQL draws an event's id before its transaction commits: a later id can commit first.
// The stream must not pass the open transaction's event by: no id from it on is final while it
// is open, and it delivers both, in order, once the first commits.
func TestSSEWaitsForAnOlderOpenTransaction(t *testing.T) {
	t.Parallel()
	b := setupInstances(t, 1)[0]
	p := b.product("Held", "1", 1)
	s := b.stream("/api/products/events")

	held := startTx(b)
	heldID := held.appendUpdate(t, b, p)
	later := b.do("PATCH", "/api/products/"+p, map[string]any{"stock": 2})
	require.Equal(t, http.StatusOK, later.status)
	laterID := b.lastEvent()
	require.Greater(t, laterID, heldID)

	h := events.NewHorizon()
	for range 3 {
		o, err := events.Observe(context.Background(), b.app.Store.Reader())
		require.NoError(t, err)
		require.Less(t, h.Advance(o), heldID, "no event from the open transaction's id on is final")
		time.Sleep(20 * time.Millisecond)
	}
	held.commit(t)
	require.Equal(t, idText(heldID), s.next().id)
	m := s.next()
	require.Equal(t, idText(laterID), m.id)
	require.Equal(t, json.Number("2"), m.record()["stock"])
}

// When the transaction holding the lower id is the younger one, the stream still goes by id:
// the older transaction's event (the higher id) waits for the younger one to end, then both
// come in id order, every event exactly once, and resuming from either id misses nothing.
func TestSSEDeliversEveryTransactionOnceWhateverTheIDOrder(t *testing.T) {
	t.Parallel()
	b := setupInstances(t, 1)[0]
	p := b.product("Held", "1", 1)
	s := b.stream("/api/products/events")

	older := startTx(b)
	older.run(t, func(tx *store.Exec) error { return tx.ExecRaw(context.Background(), "SELECT pg_current_xact_id()") })
	younger := startTx(b)
	youngerID := younger.appendUpdate(t, b, p)
	olderID := older.appendUpdate(t, b, p)
	require.Greater(t, olderID, youngerID)
	older.commit(t)
	younger.commit(t)
	require.Equal(t, idText(youngerID), s.next().id, "the lower id first")
	require.Equal(t, idText(olderID), s.next().id, "then the higher")

	again := b.stream("/api/products/events", "Last-Event-ID", idText(youngerID))
	require.Equal(t, idText(olderID), again.next().id)
	last := b.product("Last", "1", 1)
	require.Equal(t, last, again.next().data["record_id"], "nothing delivered twice")
	require.Equal(t, last, s.next().data["record_id"])
}

// A record's changes reach a stream in the order they committed, whatever the order their
// transactions began in: here a transaction that began (and took its transaction id) first
// changes the product last, waiting for the other's row lock. (Going by transaction ids sent
// its change first, and a client applying the stream kept the older stock.)
func TestSSEDeliversARecordsChangesInTheOrderTheyCommitted(t *testing.T) {
	t.Parallel()
	b := setupInstances(t, 1)[0]
	p := b.product("Contended", "1", 1)
	s := b.stream("/api/products/events")

	first := startTx(b)
	first.run(t, func(tx *store.Exec) error { return tx.ExecRaw(context.Background(), "SELECT pg_current_xact_id()") })
	patched := b.do("PATCH", "/api/products/"+p, map[string]any{"stock": 2})
	require.Equal(t, http.StatusOK, patched.status)
	patchedID := b.lastEvent()
	first.run(t, func(tx *store.Exec) error {
		return tx.ExecRaw(context.Background(), "UPDATE products SET stock = 3, kiln_version = kiln_version + 1 WHERE id = ?", p)
	})
	lastID := first.appendUpdate(t, b, p)
	first.commit(t)
	require.Greater(t, lastID, patchedID)
	m := s.next()
	require.Equal(t, idText(patchedID), m.id, "the change that committed first comes first")
	require.Equal(t, json.Number("2"), m.record()["stock"])
	require.Equal(t, idText(lastID), s.next().id)
}

// A transaction that writes no events — here one that holds a transaction id, a row of another
// table and the lock VACUUM takes on kiln_events — holds no stream back, however long it runs.
func TestSSEDoesNotWaitForTransactionsThatWriteNoEvents(t *testing.T) {
	t.Parallel()
	b := setupInstances(t, 1)[0]
	s := b.stream("/api/products/events")
	other := startTx(b)
	other.run(t, func(tx *store.Exec) error {
		return tx.ExecRaw(context.Background(), "INSERT INTO kiln_idempotency (scope, key, fingerprint, state, created_at, expires_at) VALUES ('test', 'held', 'f', 'running', 0, 0)")
	})
	other.run(t, func(tx *store.Exec) error {
		return tx.ExecRaw(context.Background(), "LOCK TABLE kiln_events IN SHARE UPDATE EXCLUSIVE MODE")
	})
	p := b.product("Unheld", "1", 1)
	start := time.Now()
	require.Equal(t, p, s.next().data["record_id"])
	require.Less(t, time.Since(start), 2*time.Second, "delivered while the other transaction runs")
	other.commit(t)
}

// Streams opening on a fresh instance while a transaction that wrote an event stays open each
// wait for the poller's start at most 5 s, all at once, then get 503 with Retry-After; once
// the transaction ends, a stream opens.
func TestSSEStreamsWaitForTheStartFiveSecondsAtMost(t *testing.T) {
	t.Parallel()
	bs := setupInstances(t, 2)
	a, fresh := bs[0], bs[1]
	p := a.product("Held", "1", 1)
	held := startTx(a)
	held.appendUpdate(t, a, p)
	start := time.Now()
	var wg sync.WaitGroup
	answers := make(chan *http.Response, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, cancel := fresh.openStream("/api/products/events")
			defer cancel()
			_ = res.Body.Close()
			answers <- res
		}()
	}
	wg.Wait()
	close(answers)
	require.Less(t, time.Since(start), 8*time.Second, "the three waited side by side, not one after another")
	for res := range answers {
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
		require.Equal(t, "1", res.Header.Get("Retry-After"))
	}
	held.commit(t)
	s := fresh.stream("/api/products/events")
	last := a.product("After", "1", 1)
	require.Equal(t, last, s.next().data["record_id"])
}

// Many clients patching one product at once: the stream carries the product's versions in
// increasing order, and the last message is the product as stored.
func TestSSEKeepsAHotRecordsVersionsInOrder(t *testing.T) {
	t.Parallel()
	b := setupInstances(t, 1)[0]
	p := b.product("Hot", "1", 1)
	s := b.stream("/api/products/events")
	const writers, each = 8, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res := b.do("PATCH", "/api/products/"+p, map[string]any{"description": strconv.Itoa(w*100 + i)})
				require.Equal(t, http.StatusOK, res.status, string(res.raw))
			}
		}()
	}
	wg.Wait()
	versions := map[string]int64{}
	rows, err := b.app.Store.Reader().QueryRaw(context.Background(),
		"SELECT id, (new_values::json->>'version')::bigint FROM kiln_events WHERE record_id = ? AND operation = 'update'", p)
	require.NoError(t, err)
	for rows.Next() {
		var id, v int64
		require.NoError(t, rows.Scan(&id, &v))
		versions[idText(id)] = v
	}
	require.NoError(t, rows.Close())
	require.Len(t, versions, writers*each)
	var prev int64
	var m sseMsg
	for range writers * each {
		m = s.next()
		require.Greater(t, versions[m.id], prev, "event %s came after version %d", m.id, prev)
		prev = versions[m.id]
	}
	stored := b.do("GET", "/api/products/"+p, nil)
	require.Equal(t, stored.body["description"], m.record()["description"], "the last message is the product as stored")
}

// Graceful shutdown ends open streams instead of waiting for them.
func TestSSEStreamsEndOnShutdown(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ctx, stop := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- b.app.Serve(ctx, ln) }()
		req, err := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/products/events", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+b.admin)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		stop()
		select {
		case err := <-served:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("shutdown waits for the open stream")
		}
		_, err = io.ReadAll(res.Body)
		require.NoError(t, err, "the stream ended cleanly")
	})
}
