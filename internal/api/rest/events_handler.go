package rest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/live"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/value"
)

// Live hands out subscriptions to the outbox (live.Broker).
type Live interface {
	Subscribe(ctx context.Context, resource string) (*live.Sub, error)
}

var _ Live = (*live.Broker)(nil)

// errGone: the client closed the stream.
var errGone = errors.New("the client went")

// defaultHeartbeat is how often an idle stream sends a comment, so that proxies keep it open.
const defaultHeartbeat = 15 * time.Second

// registerEvents adds GET {collection}/events, the resource's live updates.
func (h *Handler) registerEvents(mux *routeMux, coll, name string) {
	if h.live == nil {
		return
	}
	mux.HandleFunc("GET "+coll+"/events", h.authenticate(func(w http.ResponseWriter, req *http.Request) { h.events(w, req, name) }))
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		mux.refuse(m+" "+coll+"/events", h.methodNotAllowed("GET, HEAD"))
	}
}

// stream is one open live-update stream.
type stream struct {
	res     string
	watcher *service.Watcher
	sub     *live.Sub
	pos     events.Pos     // the last event sent or skipped
	skip    map[int64]bool // committed before the stream started, not read by the poller yet
	buf     bytes.Buffer
	// holds reports whether the credential the stream was opened with still stands as it did
	// (nil: anonymous, nothing to re-check).
	holds func(ctx context.Context) bool
}

// credentialRecheck is how often a stream checks its credential again: a session ended
// (logout, a reused refresh token, a password change, a disabled account), a revoked key or a
// changed role ends the stream within it, not at the token's expiry.
const credentialRecheck = 2 * time.Second

// stillHolds is a stream's re-check of the credential r carries, as authenticated into p: it
// holds while the same credential authenticates to the same principal — account or key, role
// and scopes.
func (h *Handler) stillHolds(r *http.Request, p *service.Principal) func(ctx context.Context) bool {
	token, sent, err := credential(r)
	if !sent || err != nil || p == nil || h.accounts == nil {
		return nil
	}
	return func(ctx context.Context) bool {
		now, err := h.accounts.Authenticate(ctx, token)
		return err == nil && now.ID == p.ID && now.KeyID == p.KeyID && now.Role == p.Role && slices.Equal(now.Scopes, p.Scopes)
	}
}

// events streams the resource's changes the caller may see as Server-Sent Events.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, res string) {
	st, err := h.openStream(r, res)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	defer st.sub.Close()
	rc := http.NewResponseController(w)
	// A stream outlives the server's read and write timeouts; it ends with the client, on
	// shutdown, when it falls behind, or on an error.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead || rc.Flush() != nil {
		return
	}
	ctx := r.Context()
	st.holds = h.stillHolds(r, service.PrincipalFrom(ctx))
	if p := service.PrincipalFrom(ctx); p != nil && !p.Expires.IsZero() {
		// The stream ends when the access token does: the client reconnects with a fresh
		// one (and Last-Event-ID), so a revoked or downgraded account stops receiving.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, p.Expires)
		defer cancel()
	}
	err = h.pump(ctx, w, rc, st)
	if err != nil && !errors.Is(err, errGone) && !errors.Is(err, live.ErrClosed) && !errors.Is(err, live.ErrLagging) && ctx.Err() == nil {
		h.log.WarnContext(r.Context(), "live update stream ended by an error", "request_id", RequestID(r.Context()),
			"resource", res, "cause", err.Error())
	}
}

// openStream checks the request as a list would (parameters, filter, access) and subscribes.
func (h *Handler) openStream(r *http.Request, res string) (*stream, error) {
	q, err := queryOf(r)
	if err != nil {
		return nil, err
	}
	only := url.Values{}
	for name, vals := range q {
		switch name {
		case "filter":
			only[name] = vals
		case "after":
		default:
			return nil, &service.Error{Code: service.CodeMalformed, Message: "unknown parameter",
				Fields: []service.FieldError{{Field: name, Code: "unknown_parameter", Message: "use filter or after"}}}
		}
	}
	p, err := h.svc.ParseList(res, only)
	if err != nil {
		return nil, err
	}
	watcher, err := h.svc.Watch(r.Context(), res, p)
	if err != nil {
		return nil, err
	}
	after, resume, err := lastEventID(r, q)
	if err != nil {
		return nil, err
	}
	sub, err := h.live.Subscribe(r.Context(), res)
	if err != nil {
		return nil, streamError(err)
	}
	st := &stream{res: res, watcher: watcher, sub: sub, pos: sub.From}
	if resume {
		st.pos, resume, err = h.svc.EventPos(r.Context(), after)
	}
	if err == nil && !resume {
		st.pos = sub.From
		st.skip, err = h.svc.CommittedEvents(r.Context(), res, sub.From)
	}
	if err != nil {
		sub.Close()
		return nil, err
	}
	return st, nil
}

func streamError(err error) error {
	if errors.Is(err, live.ErrClosed) {
		return service.Errorf(service.CodeUnavailable, "the server is shutting down: connect again")
	}
	if errors.Is(err, live.ErrStarting) {
		return &service.Error{Code: service.CodeUnavailable, Message: "live updates are starting: connect again shortly",
			RetryAfter: 1, Cause: err}
	}
	return service.AsError(err)
}

// lastEventID reads where to resume: the Last-Event-ID header (EventSource sends it when it
// reconnects), else the after parameter.
func lastEventID(r *http.Request, q url.Values) (int64, bool, error) {
	field, text := "Last-Event-ID", strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if text == "" {
		if v, ok := q["after"]; ok {
			field, text = "after", v[0]
		}
	}
	if text == "" {
		return 0, false, nil
	}
	id, err := strconv.ParseInt(text, 10, 64)
	if err != nil || id < 0 || len(q["after"]) > 1 {
		return 0, false, &service.Error{Code: service.CodeMalformed, Message: "cannot resume from there",
			Fields: []service.FieldError{{Field: field, Code: "type", Message: "must be the id of an event this stream sent"}}}
	}
	return id, true, nil
}

// pump sends what the stream missed (when it resumes), then every new event, until the
// client goes, the subscription ends or an error.
func (h *Handler) pump(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, st *stream) error {
	send := func(ev *events.Event) error { return h.send(ctx, w, rc, st, ev) }
	if err := st.sub.Replay(ctx, st.pos, send); err != nil {
		return err
	}
	beat := time.NewTicker(cmp.Or(h.heartbeat, defaultHeartbeat))
	defer beat.Stop()
	recheck := time.NewTicker(credentialRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-recheck.C:
			if st.holds != nil && !st.holds(ctx) {
				return nil // the client reconnects, and is answered as it now stands
			}
		case <-st.sub.Done():
			return st.sub.Err()
		case ev := <-st.sub.Events():
			if err := send(ev); err != nil {
				return err
			}
		case <-beat.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return errGone
			}
			if err := rc.Flush(); err != nil {
				return errGone
			}
		}
	}
}

// send writes one event as an SSE message, if the caller may see its record and the filter
// keeps it, and flushes.
func (h *Handler) send(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, st *stream, ev *events.Event) error {
	if !st.pos.Before(ev.Pos()) {
		return nil // sent before this subscription started
	}
	st.pos = ev.Pos()
	if st.skip[ev.ID] {
		delete(st.skip, ev.ID)
		return nil
	}
	rec, err := st.watcher.Record(ctx, ev)
	if err != nil || rec == nil {
		return err
	}
	b := &st.buf
	b.Reset()
	b.WriteString("id: " + strconv.FormatInt(ev.ID, 10) + "\nevent: " + ev.Operation + "\ndata: ")
	b.WriteString(`{"resource":`)
	appendString(b, ev.Resource)
	b.WriteString(`,"operation":`)
	appendString(b, ev.Operation)
	if ev.Action != "" {
		b.WriteString(`,"action":`)
		appendString(b, ev.Action)
	}
	b.WriteString(`,"record_id":`)
	appendString(b, ev.RecordID)
	b.WriteString(`,"record":`)
	h.encoders[st.res].record(b, rec, view{spec: h.spec})
	b.WriteString(`,"at":`)
	appendString(b, value.FormatTime(ev.At))
	b.WriteString("}\n\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return errGone
	}
	if err := rc.Flush(); err != nil {
		return errGone
	}
	return nil
}
