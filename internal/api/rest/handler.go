package rest

import (
	"bytes"
	"errors"
	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/files"
	"github.com/kiln-dev/kiln/internal/idempotency"
	"github.com/kiln-dev/kiln/internal/ratelimit"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// Config wires the REST transport.
type Config struct {
	Spec    *spec.Spec
	Service *service.Service
	Logger  *slog.Logger
	// Accounts authenticates bearer tokens and serves the auth endpoints; nil without auth.
	Accounts *auth.Accounts
	// Limiter counts requests against the spec's rate limits; nil means no limits.
	Limiter ratelimit.Limiter
	// OIDC serves "log in with" providers; nil without them.
	OIDC *auth.OIDC
	// Idempotency stores the answers to requests sent with an Idempotency-Key.
	Idempotency *idempotency.Store
	// Routes are a Go program's own routes, served behind the same authentication.
	Routes []Route
	// Jobs serves the admin jobs API ({base}/admin/jobs); nil: none.
	Jobs Jobs
	// Webhooks and WebhookLog serve {base}/admin/webhooks; Incoming the spec's incoming
	// webhook endpoints. nil: none.
	Webhooks   WebhookAdmin
	WebhookLog WebhookLog
	Incoming   Incoming
	// Payments serves the pay and refund routes of payable resources; nil: none.
	Payments Payments
	// Live serves live updates ({base}/{resource}/events); nil: none.
	Live Live
	// Heartbeat is how often an idle live-update stream sends a comment; default 15 s.
	Heartbeat time.Duration
	// Files receives and serves the files of file fields; nil when the spec has none.
	Files *files.Files
}

// Route is a custom route: a ServeMux pattern such as "GET /api/reports/sales".
type Route struct {
	Pattern string
	Handler http.HandlerFunc
}

// Handler serves the REST API of a spec.
type Handler struct {
	spec     *spec.Spec
	svc      *service.Service
	log      *slog.Logger
	maxBody  int64
	encoders map[string]encoder
	accounts *auth.Accounts
	limiter  ratelimit.Limiter
	rates    ratePolicies
	oidc     *auth.OIDC
	idem     *idempotency.Store
	routes   []Route
	jobs     Jobs
	hooks    WebhookAdmin
	hookLog  WebhookLog
	incoming Incoming
	payments Payments
	live     Live
	// heartbeat: an idle stream's comment interval (0: defaultHeartbeat).
	heartbeat time.Duration
	files     *files.Files
	// served are the patterns Register added that answer requests (not 405s or 404s).
	served []string
}

// New builds the handler.
func New(cfg Config) *Handler {
	h := &Handler{spec: cfg.Spec, svc: cfg.Service, log: cfg.Logger, maxBody: cfg.Spec.Server.MaxBodyBytes,
		encoders: map[string]encoder{}, accounts: cfg.Accounts, limiter: cfg.Limiter, oidc: cfg.OIDC,
		idem: cfg.Idempotency, routes: cfg.Routes, jobs: cfg.Jobs,
		hooks: cfg.Webhooks, hookLog: cfg.WebhookLog, incoming: cfg.Incoming, payments: cfg.Payments, live: cfg.Live, heartbeat: cfg.Heartbeat, files: cfg.Files}
	h.rates = newRatePolicies(cfg.Spec.Server.RateLimits)
	for _, r := range cfg.Spec.Resources {
		h.encoders[r.Name] = encoder{res: r, files: cfg.Files}
	}
	return h
}

// Register adds every resource route to mux, with problem+json 405s listing Allow.
func (h *Handler) Register(sm *http.ServeMux) {
	mux := &routeMux{ServeMux: sm}
	defer func() { h.served = mux.served }()
	base := strings.TrimSuffix(h.spec.Server.BasePath, "/")
	for _, r := range h.spec.Resources {
		name := r.Name
		coll, item := base+"/"+name, base+"/"+name+"/{id}"
		mux.HandleFunc("GET "+coll, h.authenticate(func(w http.ResponseWriter, req *http.Request) { h.list(w, req, name) }))
		mux.HandleFunc("POST "+coll, h.authenticate(h.noParams(h.idempotent(func(w http.ResponseWriter, req *http.Request) { h.create(w, req, name) }))))
		mux.HandleFunc("GET "+item, h.authenticate(func(w http.ResponseWriter, req *http.Request) { h.get(w, req, name) }))
		mux.HandleFunc("PATCH "+item, h.authenticate(h.noParams(h.idempotent(func(w http.ResponseWriter, req *http.Request) { h.update(w, req, name, false) }))))
		mux.HandleFunc("PUT "+item, h.authenticate(h.noParams(func(w http.ResponseWriter, req *http.Request) { h.update(w, req, name, true) })))
		mux.HandleFunc("DELETE "+item, h.authenticate(h.noParams(func(w http.ResponseWriter, req *http.Request) { h.delete(w, req, name) })))
		h.registerEvents(mux, coll, name)
		h.registerFileFields(mux, r, item)
		mux.refuse(coll, h.methodNotAllowed("GET, HEAD, POST"))
		mux.refuse(item, h.methodNotAllowed("GET, HEAD, PATCH, PUT, DELETE"))
		if r.SoftDelete {
			mux.HandleFunc("POST "+item+"/restore", h.authenticate(h.noParams(h.idempotent(func(w http.ResponseWriter, req *http.Request) { h.restore(w, req, name) }))))
			mux.refuse(item+"/restore", h.methodNotAllowed("POST"))
		}
		for _, a := range r.Actions {
			action := a.Name
			mux.HandleFunc("POST "+item+"/"+action, h.authenticate(h.noParams(h.idempotent(func(w http.ResponseWriter, req *http.Request) { h.action(w, req, name, action) }))))
			mux.refuse(item+"/"+action, h.methodNotAllowed("POST"))
		}
	}
	h.registerRoutes(mux)
	mux.HandleFunc("POST "+base+"/batch", h.authenticate(h.noParams(h.idempotent(h.batch))))
	mux.refuse(base+"/batch", h.methodNotAllowed("POST"))
	h.registerAuth(mux, base)
	h.registerOIDC(mux, base)
	h.registerJobs(mux, base)
	h.registerWebhooks(mux, base)
	h.registerIncoming(mux)
	h.registerFiles(mux, base)
	h.registerPayments(mux, base)
	h.registerPaymentsAdmin(mux, base)
	mux.refuse(base+"/", func(w http.ResponseWriter, req *http.Request) {
		WriteError(w, req, h.log, service.Errorf(service.CodeNotFound, "no such resource or route"))
	})
}

func (h *Handler) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodOptions {
			w.Header().Set("Allow", allow+", OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Allow", allow)
		WriteError(w, req, h.log, service.Errorf(service.CodeMethodNotAllow, "%s is not allowed here", req.Method))
	}
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, res string) {
	in, err := decodeObject(r, h.maxBody)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	rec, err := h.svc.Create(r.Context(), res, in, service.WriteOpts{Remember: h.remember(r, http.StatusCreated, res, true)})
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Location", h.spec.Server.BasePath+"/"+res+"/"+rec.ID)
	h.writeRecord(w, http.StatusCreated, res, rec, view{spec: h.spec})
}

// noParams refuses a write with a query string: no write takes a parameter, and one sent
// (?dry_run=true, ?fields=name) would otherwise be ignored while the write went ahead, as the
// client did not ask — a record's, an action's, a payment's, an upload's, an admin's or an
// account's. Reads refuse parameters they do not know the same way.
func (h *Handler) noParams(next http.HandlerFunc) http.HandlerFunc { return h.onlyParams(nil, next) }

// onlyParams is noParams for a write that takes the named parameters (an upload's ?name=).
func (h *Handler) onlyParams(known []string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			next(w, r)
			return
		}
		q, err := queryOf(r)
		if err == nil {
			var errs []service.FieldError
			for name := range q {
				if !slices.Contains(known, name) {
					errs = append(errs, service.FieldError{Field: name, Code: "unknown_parameter", Message: "a write takes no such query parameter"})
				}
			}
			if len(errs) == 0 {
				next(w, r)
				return
			}
			slices.SortFunc(errs, func(a, b service.FieldError) int { return strings.Compare(a.Field, b.Field) })
			err = &service.Error{Code: service.CodeMalformed, Message: "unknown parameter", Fields: errs}
		}
		WriteError(w, r, h.log, err)
	}
}

// queryOf parses the query string strictly: Go's URL.Query drops pairs it cannot parse
// (such as ones with ';'), and a silently ignored parameter is worse than an error.
func queryOf(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, service.Errorf(service.CodeMalformed, "the query string is malformed (use & between parameters and percent-encode values)")
	}
	var errs []service.FieldError
	for name, vals := range q {
		for _, text := range append([]string{name}, vals...) {
			if code := value.TextProblem(text); code != "" {
				errs = append(errs, service.FieldError{Field: strings.ToValidUTF8(name, "\uFFFD"), Code: code, Message: value.TextMessage(code)})
				break
			}
		}
	}
	if len(errs) > 0 {
		return nil, &service.Error{Code: service.CodeMalformed, Message: "the query string has unusable text", Fields: errs}
	}
	return q, nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, res string) {
	expand, fields, err := h.readShape(r, res)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	v := view{spec: h.spec}
	rec, exp, err := h.svc.Get(r.Context(), res, r.PathValue("id"), expand)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	v.expanded, v.fields = exp, fields
	tag := h.encoders[res].recordTag(rec, v)
	if notModified(r, tag) {
		writeNotModified(w, tag)
		return
	}
	h.writeTagged(w, http.StatusOK, res, rec, v, tag)
}

// readShape reads the expand and fields parameters of a single-record read; a read without a
// query string (the common case) has neither and parses nothing.
func (h *Handler) readShape(r *http.Request, res string) ([]string, map[string]bool, error) {
	if r.URL.RawQuery == "" {
		return nil, nil, nil
	}
	q, err := queryOf(r)
	if err != nil {
		return nil, nil, err
	}
	return h.shape(res, q)
}

// shape validates the expand and fields parameters of a single-record read.
func (h *Handler) shape(res string, q url.Values) ([]string, map[string]bool, error) {
	for name := range q {
		if name != "expand" && name != "fields" {
			return nil, nil, &service.Error{Code: service.CodeMalformed, Message: "unknown parameter",
				Fields: []service.FieldError{{Field: name, Code: "unknown_parameter", Message: "use expand or fields"}}}
		}
	}
	only := url.Values{}
	for _, k := range []string{"expand", "fields"} {
		if v, ok := q[k]; ok {
			only[k] = v
		}
	}
	p, err := h.svc.ParseList(res, only)
	var e *service.Error
	if errors.As(err, &e) {
		out := *e // the same problems, for a read of one record, not a list
		out.Message = "the request has invalid parameters"
		return nil, nil, &out
	}
	if err != nil {
		return nil, nil, err
	}
	return p.Expand, fieldSet(p.Fields), nil
}

func fieldSet(names []string) map[string]bool {
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request, res string, full bool) {
	in, err := decodeObject(r, h.maxBody)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	opts, err := ifMatch(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	opts.Remember = h.remember(r, http.StatusOK, res, false)
	rec, err := h.svc.Update(r.Context(), res, r.PathValue("id"), in, full, opts)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	h.writeRecord(w, http.StatusOK, res, rec, view{spec: h.spec})
}

// action runs a named action on a record: the body is its input (may be empty).
func (h *Handler) action(w http.ResponseWriter, r *http.Request, res, name string) {
	in := map[string]any{}
	if r.ContentLength != 0 {
		var err error
		if in, err = decodeObject(r, h.maxBody); err != nil {
			WriteError(w, r, h.log, err)
			return
		}
	}
	opts, err := ifMatch(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	opts.Remember = h.remember(r, http.StatusOK, res, false)
	rec, err := h.svc.Action(r.Context(), res, r.PathValue("id"), name, in, opts)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	h.writeRecord(w, http.StatusOK, res, rec, view{spec: h.spec})
}

// restore brings back a soft-deleted record (no body).
func (h *Handler) restore(w http.ResponseWriter, r *http.Request, res string) {
	opts, err := ifMatch(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	opts.Remember = h.remember(r, http.StatusOK, res, false)
	rec, err := h.svc.Restore(r.Context(), res, r.PathValue("id"), opts)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	h.writeRecord(w, http.StatusOK, res, rec, view{spec: h.spec})
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, res string) {
	opts, err := ifMatch(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	if err := h.svc.Delete(r.Context(), res, r.PathValue("id"), opts); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, res string) {
	q, err := queryOf(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	p, err := h.svc.ParseList(res, q)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	page, err := h.svc.List(r.Context(), res, p)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	v := view{spec: h.spec, expanded: page.Expanded, fields: fieldSet(p.Fields)}
	enc := h.encoders[res]
	tag := enc.listTag(r.URL.RawQuery, page, v)
	if notModified(r, tag) {
		writeNotModified(w, tag)
		return
	}
	w.Header().Set("ETag", tag)
	b := getBody()
	defer putBody(b)
	b.Grow(256 * (len(page.Records) + 1))
	b.WriteString(`{"items":[`)
	for i, rec := range page.Records {
		if i > 0 {
			b.WriteByte(',')
		}
		enc.record(b, rec, v)
	}
	b.WriteString(`],"next_cursor":`)
	if page.NextCursor == "" {
		b.WriteString("null")
	} else {
		appendString(b, page.NextCursor)
	}
	if page.Total != nil {
		b.WriteString(`,"total":` + strconv.FormatInt(*page.Total, 10))
	}
	b.WriteString("}\n")
	writeJSON(w, http.StatusOK, b.Bytes())
}

func (h *Handler) writeRecord(w http.ResponseWriter, status int, res string, rec *store.Record, v view) {
	h.writeTagged(w, status, res, rec, v, h.encoders[res].recordTag(rec, v))
}

// writeTagged is writeRecord with the record's ETag already computed (a read computes it
// first, for If-None-Match).
func (h *Handler) writeTagged(w http.ResponseWriter, status int, res string, rec *store.Record, v view, tag string) {
	b := getBody()
	defer putBody(b)
	h.encoders[res].record(b, rec, v)
	b.WriteByte('\n')
	w.Header()["Etag"] = []string{tag} // Header.Set's canonical key, without its rewrite
	writeJSON(w, status, b.Bytes())
}

// render is a record's answer as writeRecord sends it: body and headers.
func (h *Handler) render(res string, rec *store.Record) ([]byte, map[string]string) {
	var b bytes.Buffer
	v := view{spec: h.spec}
	h.encoders[res].record(&b, rec, v)
	b.WriteByte('\n')
	return b.Bytes(), map[string]string{"ETag": h.encoders[res].recordTag(rec, v), "Content-Type": "application/json"}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// The headers that matter only on a document a browser renders, stored as Header.Set stores
// them and shared by every answer (a value slice is never changed in place).
var (
	frameDeny      = []string{"DENY"}
	noReferrer     = []string{"no-referrer"}
	sameOriginOnly = []string{"same-origin"}
)
