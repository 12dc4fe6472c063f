package idempotency_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/idempotency"
	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

const tinySpec = "resources:\n  notes:\n    fields:\n      text: string\n"

// clock is a settable time source.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// started is a store on dialect keeping answers for ttl, on a clock the test moves.
func started(t *testing.T, dialect string, ttl time.Duration) (*clock, *idempotency.Store) {
	t.Helper()
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	return c, openTTL(t, dialect, c, ttl)
}

// openTTL is open with answers kept for ttl.
func openTTL(t *testing.T, dialect string, c *clock, ttl time.Duration) *idempotency.Store {
	t.Helper()
	s, err := spec.Parse("kiln.yaml", []byte(tinySpec), spec.ParseOpts{})
	require.NoError(t, err)
	cfg := store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}
	if dialect == "postgres" {
		cfg = store.Config{URL: testdb.PostgresURL(t)}
	}
	st, err := store.Open(context.Background(), cfg, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, migrate.New(migrate.Config{Dir: t.TempDir()}, st).Dev(context.Background(), migrate.FromSpec(s), false, nil))
	return idempotency.New(idempotency.Config{TTL: ttl, Abandoned: time.Minute, Now: c.Now}, st)
}

func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range testdb.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// A key runs once: a second Begin while it runs is in progress, another request with it is
// a mismatch, and once finished its answer is replayed — until it expires and is cleaned up.
func TestKeyLifecycle(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		c, s := started(t, dialect, time.Hour)
		fp := idempotency.Fingerprint("POST", "/api/notes", []byte(`{"text":"a"}`))

		answer, claim, err := s.Begin(ctx, "user:1", "k1", fp)
		require.NoError(t, err)
		require.Nil(t, answer, "the first request runs")
		_, _, err = s.Begin(ctx, "user:1", "k1", fp)
		require.ErrorIs(t, err, idempotency.ErrInProgress)
		_, _, err = s.Begin(ctx, "user:1", "k1", idempotency.Fingerprint("POST", "/api/notes", []byte(`{"text":"b"}`)))
		require.ErrorIs(t, err, idempotency.ErrMismatch)
		other, _, err := s.Begin(ctx, "user:2", "k1", fp)
		require.NoError(t, err)
		require.Nil(t, other, "keys are scoped to the principal")

		want := idempotency.Answer{Status: 201, Headers: map[string]string{"Location": "/api/notes/x"}, Body: []byte(`{"id":"x"}`)}
		require.NoError(t, s.FinishAlone(ctx, claim, want))
		got, _, err := s.Begin(ctx, "user:1", "k1", fp)
		require.NoError(t, err)
		require.Equal(t, &want, got)

		c.now = c.now.Add(2 * time.Hour)
		n, err := s.Cleanup(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 2, n, "both keys expired")
		again, _, err := s.Begin(ctx, "user:1", "k1", fp)
		require.NoError(t, err)
		require.Nil(t, again, "an expired key runs again")
	})
}

// A request that crashed while holding its key does not block it for ever; Release frees it
// at once.
func TestAbandonedAndReleasedKeysRunAgain(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		c, s := started(t, dialect, time.Hour)
		fp := idempotency.Fingerprint("PATCH", "/api/notes/1", nil)
		_, _, err := s.Begin(ctx, "anon", "k", fp)
		require.NoError(t, err)
		c.now = c.now.Add(2 * time.Minute)
		answer, claim, err := s.Begin(ctx, "anon", "k", fp)
		require.NoError(t, err)
		require.Nil(t, answer, "taken over after Abandoned")
		require.NoError(t, s.Release(ctx, claim))
		answer, _, err = s.Begin(ctx, "anon", "k", fp)
		require.NoError(t, err)
		require.Nil(t, answer)
	})
}

// An expired key that the sweeper deletes while a request reuses it is free, not in progress:
// the request read the expired row and its DELETE waited for the sweeper's; once that
// committed, it found the row gone and answered ErrInProgress (409) though no request held the
// key (found by a review). It reads the key again and claims it.
func TestExpiredKeySweptWhileReusedIsClaimed(t *testing.T) {
	ctx := context.Background()
	s0, err := spec.Parse("kiln.yaml", []byte(tinySpec), spec.ParseOpts{})
	require.NoError(t, err)
	st, err := store.Open(ctx, store.Config{URL: testdb.PostgresURL(t)}, s0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, migrate.New(migrate.Config{Dir: t.TempDir()}, st).Dev(ctx, migrate.FromSpec(s0), false, nil))
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	s := idempotency.New(idempotency.Config{TTL: time.Hour, Abandoned: time.Minute, Now: c.Now}, st)
	fp := idempotency.Fingerprint("POST", "/api/notes", []byte(`{}`))
	_, claim, err := s.Begin(ctx, "u", "k", fp)
	require.NoError(t, err)
	require.NoError(t, s.FinishAlone(ctx, claim, idempotency.Answer{Status: 201, Body: []byte("{}")}))
	c.now = c.now.Add(2 * time.Hour) // expired

	deleted, release, swept := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() { // the sweeper's transaction, as Cleanup runs it, held open
		swept <- st.InTx(ctx, func(tx *store.Exec) error {
			if err := tx.ExecRaw(ctx, "DELETE FROM kiln_idempotency WHERE expires_at < ?", c.now.UnixMicro()); err != nil {
				return err
			}
			close(deleted)
			<-release
			return nil
		})
	}()
	<-deleted
	begun := make(chan error)
	go func() {
		_, _, err := s.Begin(ctx, "u", "k", fp)
		begun <- err
	}()
	waitForALockWait(t, st) // Begin read the expired row and its DELETE waits for the sweeper's
	close(release)
	require.NoError(t, <-swept)
	require.NoError(t, <-begun, "the key is free: no request holds it")
}

// waitForALockWait waits until a claim's DELETE of a key waits for a lock (the test schemas
// share one database: its text tells this one from other tests' statements).
func waitForALockWait(t *testing.T, st *store.Store) {
	t.Helper()
	require.Eventually(t, func() bool {
		rows, err := st.Reader().QueryRaw(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"+
				" AND query LIKE 'DELETE FROM kiln_idempotency WHERE scope = % AND created_at = %'")
		require.NoError(t, err)
		defer rows.Close()
		var n int
		require.True(t, rows.Next())
		require.NoError(t, rows.Scan(&n))
		return n > 0
	}, 10*time.Second, 5*time.Millisecond)
}

// A request held up past Abandoned whose key a retry took over acts on its own claim alone: its
// Finish refuses (ErrClaimLost), so its write rolls back instead of committing beside the
// retry's and storing its answer over the retry's claim; its Release leaves the retry's key
// running. The retry finishes as usual and its answer is the one replayed.
func TestAClaimTakenOverIsNotTheOldRequestsAnyMore(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		c, s := started(t, dialect, time.Hour)
		fp := idempotency.Fingerprint("POST", "/api/notes", []byte(`{"text":"a"}`))
		_, slow, err := s.Begin(ctx, "u", "k", fp)
		require.NoError(t, err)
		c.now = c.now.Add(2 * time.Minute)
		_, retry, err := s.Begin(ctx, "u", "k", fp)
		require.NoError(t, err)
		require.NotNil(t, retry, "taken over after Abandoned")

		slowAnswer := idempotency.Answer{Status: 201, Body: []byte(`{"id":"slow"}`)}
		require.ErrorIs(t, s.FinishAlone(ctx, slow, slowAnswer), idempotency.ErrClaimLost)
		require.NoError(t, s.Release(ctx, slow))
		_, _, err = s.Begin(ctx, "u", "k", fp)
		require.ErrorIs(t, err, idempotency.ErrInProgress, "the retry still holds the key")

		want := idempotency.Answer{Status: 201, Headers: map[string]string{}, Body: []byte(`{"id":"retry"}`)}
		require.NoError(t, s.FinishAlone(ctx, retry, want))
		got, _, err := s.Begin(ctx, "u", "k", fp)
		require.NoError(t, err)
		require.Equal(t, want.Body, got.Body)
		require.ErrorIs(t, s.FinishAlone(ctx, retry, slowAnswer), idempotency.ErrClaimLost, "a claim finishes once")
	})
}

// A TTL shorter than a request (server.idempotency_ttl: 1s) frees answers, not running claims:
// a request still within Abandoned keeps its key against the sweeper and against a retry, so
// its write commits (the sweeper took the claim, and the write failed as taken over, a review
// found); once it answered, its answer expires as usual.
func TestARunningClaimOutlivesAShortTTL(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		c, s := started(t, dialect, time.Second)
		fp := idempotency.Fingerprint("POST", "/api/notes", []byte(`{"text":"a"}`))
		_, claim, err := s.Begin(ctx, "u", "k", fp)
		require.NoError(t, err)
		c.now = c.now.Add(5 * time.Second)
		n, err := s.Cleanup(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "the claim is running")
		_, _, err = s.Begin(ctx, "u", "k", fp)
		require.ErrorIs(t, err, idempotency.ErrInProgress)
		require.NoError(t, s.FinishAlone(ctx, claim, idempotency.Answer{Status: 201, Body: []byte("{}")}))
		c.now = c.now.Add(2 * time.Second)
		n, err = s.Cleanup(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the answer expired")
	})
}

// A JSON body is fingerprinted by what it says: its keys in another order or other spacing is
// the same request (a new user's trial got 422 idempotency_key_reused for a retry serialized
// afresh), and so is a number spelled otherwise (2.0 is 2); another value, another path or method is not; a body
// that is not JSON counts byte for byte.
func TestFingerprintOfAJSONBodyIgnoresKeyOrderAndSpacing(t *testing.T) {
	t.Parallel()
	fp := idempotency.Fingerprint
	a := fp("POST", "/api/visits", []byte(`{"pet":"p1","slot":{"at":"09:00","room":2}}`))
	require.Equal(t, a, fp("POST", "/api/visits", []byte("{ \"slot\": {\"room\": 2, \"at\": \"09:00\"},\n  \"pet\": \"p1\" }")))
	require.NotEqual(t, a, fp("POST", "/api/visits", []byte(`{"pet":"p2","slot":{"at":"09:00","room":2}}`)))
	require.Equal(t, a, fp("POST", "/api/visits", []byte(`{"pet":"p1","slot":{"at":"09:00","room":2.0}}`)), "2.0 is 2, as the API reads it")
	require.Equal(t, a, fp("POST", "/api/visits", []byte(`{"pet":"p1","slot":{"at":"09:00","room":20e-1}}`)))
	require.NotEqual(t, a, fp("POST", "/api/visits", []byte(`{"pet":"p1","slot":{"at":"09:00","room":2.01}}`)))
	require.Equal(t, fp("POST", "/x", []byte(`{"p":[2.50, 0.1, -3.000]}`)), fp("POST", "/x", []byte(`{"p":[2.5, 1e-1, -3]}`)))
	require.NotEqual(t, fp("POST", "/x", []byte(`{"p":1e400}`)), fp("POST", "/x", []byte(`{"p":1e401}`)), "huge exponents are kept as written")
	require.NotEqual(t, a, fp("PUT", "/api/visits", []byte(`{"pet":"p1","slot":{"at":"09:00","room":2}}`)))
	require.NotEqual(t, a, fp("POST", "/api/pets", []byte(`{"pet":"p1","slot":{"at":"09:00","room":2}}`)))
	require.NotEqual(t, fp("POST", "/x", []byte(`{"a":1} {"b":2}`)), fp("POST", "/x", []byte(`{"a":1}`)), "trailing data is not JSON")
	require.NotEqual(t, fp("POST", "/x", []byte("a b")), fp("POST", "/x", []byte("a  b")))
}

// A key stored with the byte-for-byte fingerprint Kiln kept before canonical ones (a request
// in flight across the upgrade) still replays for its retry, which Begin is given both ways;
// another body is still a mismatch.
func TestAKeyStoredBeforeCanonicalFingerprintsStillReplays(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		_, s := started(t, dialect, time.Hour)
		body := []byte(`{ "text": "a", "n": 1.0 }`)
		old := idempotency.RawFingerprint("POST", "/api/notes", body)
		_, claim, err := s.Begin(ctx, "user:1", "k1", old) // as the release before stored it
		require.NoError(t, err)
		want := idempotency.Answer{Status: 201, Body: []byte(`{"id":"x"}`)}
		require.NoError(t, s.FinishAlone(ctx, claim, want))

		canonical := idempotency.Fingerprint("POST", "/api/notes", body)
		require.NotEqual(t, old, canonical)
		_, _, err = s.Begin(ctx, "user:1", "k1", canonical)
		require.ErrorIs(t, err, idempotency.ErrMismatch, "without the earlier fingerprint it would not match")
		got, _, err := s.Begin(ctx, "user:1", "k1", canonical, old)
		require.NoError(t, err)
		require.Equal(t, &want, got)
		other := []byte(`{"text":"b"}`)
		_, _, err = s.Begin(ctx, "user:1", "k1", idempotency.Fingerprint("POST", "/api/notes", other), idempotency.RawFingerprint("POST", "/api/notes", other))
		require.ErrorIs(t, err, idempotency.ErrMismatch)
	})
}
