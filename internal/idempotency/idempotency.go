// Package idempotency remembers the answers to writes sent with an Idempotency-Key
// (draft-ietf-httpapi-idempotency-key-header), so a retried request gets the same answer
// without writing again. A key's answer is stored in the same transaction as the write it
// answers: a crash loses both or neither.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// Errors Begin reports.
var (
	// ErrMismatch means the key was used before with another request.
	ErrMismatch = errors.New("the Idempotency-Key was used with another request")
	// ErrInProgress means the first request with the key has not finished.
	ErrInProgress = errors.New("a request with this Idempotency-Key is still running")
	// ErrClaimLost means a request's claim on its key was taken over (taken for abandoned by a
	// later request with the key) or is gone: Finish refuses, so its write rolls back.
	ErrClaimLost = errors.New("a later request with this Idempotency-Key took it over")
)

// Claim is a request's hold on a key, from Begin. Finish, FinishAlone and Release act on it
// alone: a request held up past Config.Abandoned whose key a retry took over must neither
// commit its write beside the retry's, nor store its answer over it, nor free the retry's key.
type Claim struct {
	Scope, Key string
	at         int64 // the claim's created_at, unix microseconds
}

// Config configures a Store.
type Config struct {
	// TTL is how long answers are kept (default 24h).
	TTL time.Duration
	// Abandoned is how long a running request may hold its key before it is taken for lost
	// in a crash (default 1 minute; longer than any request's deadline).
	Abandoned time.Duration
	Now       func() time.Time
}

func (c Config) withDefaults() Config {
	if c.TTL <= 0 {
		c.TTL = 24 * time.Hour
	}
	if c.Abandoned <= 0 {
		c.Abandoned = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Store keeps idempotency keys in the app's database.
type Store struct {
	cfg Config
	st  *store.Store
}

// New makes a Store on st.
func New(cfg Config, st *store.Store) *Store { return &Store{cfg: cfg.withDefaults(), st: st} }

// Answer is a stored answer.
type Answer struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// Fingerprint identifies a request by method, path and body. A JSON body counts by what it
// says, not how it is written: the same object with its keys in another order or other
// spacing is the same request (a client's retry may serialize it afresh).
func Fingerprint(method, path string, body []byte) string {
	return fingerprintOf(method, path, canonical(body))
}

// RawFingerprint is the body's fingerprint byte for byte, as Kiln kept them before
// Fingerprint read JSON by what it says: Begin matches a key stored so (in flight across the
// upgrade) with it.
func RawFingerprint(method, path string, body []byte) string {
	return fingerprintOf(method, path, body)
}

func fingerprintOf(method, path string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// canonical is a JSON body re-encoded with its object keys sorted and no spacing (numbers
// kept as written); any other body as it is.
func canonical(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return body
	}
	if _, err := dec.Token(); err != io.EOF {
		return body
	}
	out, err := json.Marshal(numbersByValue(v))
	if err != nil {
		return body
	}
	return out
}

// numbersByValue rewrites v's numbers in one spelling per value (1, 1.0 and 1e0 are 1; 2.50 is
// 2.5): the API reads them alike, so a retry that spells one otherwise is the same request.
func numbersByValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbersByValue(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbersByValue(e)
		}
	case json.Number:
		return json.Number(numberByValue(string(x)))
	}
	return v
}

// numberByValue is s, a JSON number, as the shortest exact decimal of its value; s itself when
// its exponent is too large to expand cheaply.
func numberByValue(s string) string {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		if exp, err := strconv.Atoi(s[i+1:]); err != nil || exp > 64 || exp < -64 {
			return s
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	if r.IsInt() {
		return r.Num().String()
	}
	scaled, ten := new(big.Rat).Set(r), big.NewRat(10, 1)
	for places := 1; places <= 400; places++ {
		if scaled.Mul(scaled, ten).IsInt() {
			return r.FloatString(places)
		}
	}
	return s
}

// Begin claims key for a request: a claim means go ahead (the key is now running); an answer
// means replay it; ErrMismatch and ErrInProgress mean refuse. A key stored with one of the
// request's earlier fingerprints (RawFingerprint) is the same request too.
func (s *Store) Begin(ctx context.Context, scope, key, fingerprint string, earlier ...string) (*Answer, *Claim, error) {
	var answer *Answer
	c := &Claim{Scope: scope, Key: key}
	err := s.st.InTx(ctx, func(tx *store.Exec) error {
		var err error
		answer, c.at, err = s.claim(ctx, tx, scope, key, fingerprint, earlier)
		if errors.Is(err, errMoved) {
			// The expired or abandoned row read is gone (swept, or taken by another request):
			// a statement now sees what took its place, so decide once more on that.
			answer, c.at, err = s.claim(ctx, tx, scope, key, fingerprint, earlier)
		}
		if errors.Is(err, errMoved) {
			return ErrInProgress
		}
		return err
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, nil, ErrInProgress // another request claimed the key at the same moment
	case err != nil || answer != nil:
		return answer, nil, err
	}
	return nil, c, nil
}

// errMoved is claim's answer when the row it read changed before it could delete it.
var errMoved = errors.New("idempotency: the key's row changed while it was claimed")

// claim reads key and decides: claim it (free, expired or abandoned: the claim's created_at),
// replay its answer, or refuse.
func (s *Store) claim(ctx context.Context, tx *store.Exec, scope, key, fingerprint string, earlier []string) (*Answer, int64, error) {
	now := s.cfg.Now()
	row, err := s.read(ctx, tx, scope, key)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case row == nil || s.free(row, now):
		if err := s.forget(ctx, tx, scope, key, row); err != nil {
			return nil, 0, err
		}
		at := now.UnixMicro()
		if row != nil && row.created >= at {
			at = row.created + 1 // a clock set back: the claim must not read as the one it took over
		}
		return nil, at, tx.ExecRaw(ctx, "INSERT INTO kiln_idempotency (scope, key, fingerprint, state, created_at, expires_at) VALUES (?, ?, ?, 'running', ?, ?)",
			scope, key, fingerprint, at, now.Add(s.cfg.TTL).UnixMicro())
	case row.fingerprint != fingerprint && !slices.Contains(earlier, row.fingerprint):
		return nil, 0, ErrMismatch
	case row.state == "running":
		return nil, 0, ErrInProgress
	}
	return row.answer, 0, nil
}

// free reports whether row no longer holds its key: an answer past its expiry, or a claim
// taken for lost in a crash (older than Abandoned). A running claim is never free by expiry
// alone — a TTL shorter than a request must not let a retry in beside it, nor the sweeper
// take its claim away so that its write fails.
func (s *Store) free(row *row, now time.Time) bool {
	if row.state == "running" {
		return row.created < now.Add(-s.cfg.Abandoned).UnixMicro()
	}
	return row.expires < now.UnixMicro()
}

// forget deletes the expired or abandoned claim old that claim read, and only that one: on
// PostgreSQL (READ COMMITTED) another request may have claimed the key since, and a DELETE of
// whatever the key holds took that claim away, so both requests wrote. When the row read is
// gone the answer is errMoved. A key read as free needs no delete; a claim committed since
// makes the INSERT clash (ErrInProgress).
func (s *Store) forget(ctx context.Context, tx *store.Exec, scope, key string, old *row) error {
	if old == nil {
		return nil
	}
	n, err := tx.ExecRawCount(ctx, "DELETE FROM kiln_idempotency WHERE scope = ? AND key = ? AND state = ? AND created_at = ? AND expires_at = ?",
		scope, key, old.state, old.created, old.expires)
	if err == nil && n == 0 {
		return errMoved
	}
	return err
}

// Finish stores the answer inside the transaction of the write it answers, where c still
// holds the key: ErrClaimLost otherwise, and the write must not commit.
func (s *Store) Finish(ctx context.Context, tx *store.Exec, c *Claim, a Answer) error {
	headers, err := json.Marshal(a.Headers)
	if err != nil {
		return err
	}
	n, err := tx.ExecRawCount(ctx, "UPDATE kiln_idempotency SET state = 'done', status = ?, headers = ?, body = ? WHERE scope = ? AND key = ? AND state = 'running' AND created_at = ?",
		a.Status, string(headers), string(a.Body), c.Scope, c.Key, c.at)
	if err == nil && n == 0 {
		return ErrClaimLost
	}
	return err
}

// FinishAlone stores an answer whose write did not happen (an error) in a transaction of
// its own, so a retry gets the same refusal.
func (s *Store) FinishAlone(ctx context.Context, c *Claim, a Answer) error {
	return s.st.InTx(ctx, func(tx *store.Exec) error { return s.Finish(ctx, tx, c, a) })
}

// Release forgets c's running key, whose request failed before it could answer (an outage),
// so a retry runs again; a claim taken over is left to the request that holds it.
func (s *Store) Release(ctx context.Context, c *Claim) error {
	return s.st.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "DELETE FROM kiln_idempotency WHERE scope = ? AND key = ? AND state = 'running' AND created_at = ?", c.Scope, c.Key, c.at)
	})
}

// Cleanup deletes expired keys and reports how many; a running claim only once it is taken
// for abandoned (free).
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	var n int64
	now := s.cfg.Now()
	err := s.st.InTx(ctx, func(tx *store.Exec) error {
		var err error
		n, err = tx.ExecRawCount(ctx, "DELETE FROM kiln_idempotency WHERE expires_at < ? AND (state <> 'running' OR created_at < ?)",
			now.UnixMicro(), now.Add(-s.cfg.Abandoned).UnixMicro())
		return err
	})
	return n, err
}

type row struct {
	fingerprint, state string
	created, expires   int64
	answer             *Answer
}

func (s *Store) read(ctx context.Context, tx *store.Exec, scope, key string) (*row, error) {
	rows, err := tx.QueryRaw(ctx, "SELECT fingerprint, state, status, headers, body, created_at, expires_at FROM kiln_idempotency WHERE scope = ? AND key = ?", scope, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var r row
	var status sql.NullInt64
	var headers, body sql.NullString
	if err := rows.Scan(&r.fingerprint, &r.state, &status, &headers, &body, &r.created, &r.expires); err != nil {
		return nil, err
	}
	if r.state == "done" {
		r.answer = &Answer{Status: int(status.Int64), Body: []byte(body.String)}
		_ = json.Unmarshal([]byte(headers.String), &r.answer.Headers)
	}
	return &r, rows.Err()
}
