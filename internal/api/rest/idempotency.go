package rest

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/kiln-dev/kiln/internal/idempotency"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/store"
)

// maxKeyLen bounds an Idempotency-Key.
const maxKeyLen = 255

// idemRun is one request running under an Idempotency-Key.
type idemRun struct {
	claim  *idempotency.Claim
	stored bool // the answer was stored with the write
}

type idemKey struct{}

// idempotent runs next under the request's Idempotency-Key (POST, PATCH and actions): the
// first request runs and its answer is stored with its write; a retry with the same key and
// request gets that answer again (Idempotent-Replayed: true) without writing; the same key
// with another request is 422; while the first still runs, 409.
func (h *Handler) idempotent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		keys, sent := r.Header["Idempotency-Key"]
		if !sent || h.idem == nil {
			next(w, r)
			return
		}
		// A key sent empty or twice is a client's mistake, not a request without one: running
		// it unprotected would write again on every retry the client believes safe.
		key := keys[0]
		if len(keys) > 1 || key == "" || len(key) > maxKeyLen || !printable(key) {
			WriteError(w, r, h.log, service.Errorf(service.CodeMalformed, "Idempotency-Key must be one header of 1 to %d printable ASCII characters", maxKeyLen))
			return
		}
		body, err := readBody(r, h.maxBody)
		if err != nil {
			WriteError(w, r, h.log, err)
			return
		}
		answer, claim, err := h.idem.Begin(r.Context(), h.scopeOf(r), key, idempotency.Fingerprint(r.Method, r.URL.Path, body),
			idempotency.RawFingerprint(r.Method, r.URL.Path, body))
		switch {
		case errors.Is(err, idempotency.ErrMismatch):
			WriteError(w, r, h.log, &service.Error{Code: "idempotency_key_reused", Class: service.CodeUnprocessable, Message: err.Error()})
			return
		case errors.Is(err, idempotency.ErrInProgress):
			WriteError(w, r, h.log, &service.Error{Code: "idempotency_in_progress", Class: service.CodeConflict, Message: err.Error(), RetryAfter: 1})
			return
		case err != nil:
			WriteError(w, r, h.log, err)
			return
		case answer != nil:
			replay(w, answer)
			return
		}
		run, rec := &idemRun{claim: claim}, &recorder{ResponseWriter: w}
		r.Body = readCloser{bytes.NewReader(body)}
		next(rec, r.WithContext(context.WithValue(r.Context(), idemKey{}, run)))
		h.settle(r, run, rec)
	}
}

// settle stores an answer that was not stored with a write (a refusal), so a retry gets the
// same refusal — unless the server could not answer (5xx): then the key is released.
func (h *Handler) settle(r *http.Request, run *idemRun, rec *recorder) {
	ctx := context.WithoutCancel(r.Context())
	switch {
	case run.stored:
	case rec.status >= 500 || rec.status == 0:
		_ = h.idem.Release(ctx, run.claim)
	default:
		a := idempotency.Answer{Status: rec.status, Body: rec.body.Bytes(), Headers: keptHeaders(rec.Header())}
		if err := h.idem.FinishAlone(ctx, run.claim, a); err != nil && !errors.Is(err, idempotency.ErrClaimLost) {
			h.log.WarnContext(ctx, "idempotency answer not stored", "request_id", RequestID(r.Context()))
		}
	}
}

// remember returns the WriteOpts hook that stores a successful answer inside the write's
// transaction, rendered as the handler renders it.
func (h *Handler) remember(r *http.Request, status int, res string, location bool) func(context.Context, *store.Exec, *store.Record) error {
	run, _ := r.Context().Value(idemKey{}).(*idemRun)
	if run == nil {
		return nil
	}
	return func(ctx context.Context, tx *store.Exec, rec *store.Record) error {
		body, headers := h.render(res, rec)
		if location {
			headers["Location"] = h.spec.Server.BasePath + "/" + res + "/" + rec.ID
		}
		tx.AfterCommit(func() { run.stored = true }) // a transaction run again must not count as stored
		return claimLost(h.idem.Finish(ctx, tx, run.claim, idempotency.Answer{Status: status, Headers: headers, Body: body}))
	}
}

// claimLost is the client's error for a write whose key a later request took over while it
// ran (taken for abandoned): the write does not commit, and the request answers as one that
// found the key running.
func claimLost(err error) error {
	if errors.Is(err, idempotency.ErrClaimLost) {
		return &service.Error{Code: "idempotency_in_progress", Class: service.CodeConflict, RetryAfter: 1,
			Message: "a later request with this Idempotency-Key took it over while this one ran; nothing was written", Cause: err}
	}
	return err
}

func replay(w http.ResponseWriter, a *idempotency.Answer) {
	for k, v := range a.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// keptHeaders are the answer headers a replay repeats.
func keptHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"Content-Type", "Location", "ETag", "Retry-After"} {
		if v := h.Get(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// scopeOf keeps one principal's keys apart from another's.
// scopeOf is whose keys a request's key is among: the account's, the API key's, or — for an
// anonymous request — its client address's, so strangers cannot probe or replay each
// other's keys.
func (h *Handler) scopeOf(r *http.Request) string {
	p := service.PrincipalFrom(r.Context())
	switch {
	case p == nil:
		return "anon:" + h.clientIP(r)
	case p.KeyID != "":
		return "key:" + p.KeyID
	}
	return "account:" + p.ID
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// recorder keeps what a handler answered, for storing refusals.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
