package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/integrations/webhooks"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/strictjson"
)

// WebhookAdmin manages outgoing webhook subscriptions (webhooks.Webhooks).
type WebhookAdmin interface {
	List(ctx context.Context) ([]*webhooks.Subscription, error)
	Get(ctx context.Context, name string) (*webhooks.Subscription, error)
	Create(ctx context.Context, in webhooks.Input) (*webhooks.Created, error)
	Update(ctx context.Context, name string, in webhooks.Input) (*webhooks.Subscription, error)
	Delete(ctx context.Context, name string) error
}

// WebhookLog reads the delivery log, replays deliveries and rotates secrets.
type WebhookLog interface {
	Attempts(ctx context.Context, name string, o webhooks.AttemptOpts) ([]*webhooks.Attempt, error)
	Replay(ctx context.Context, messageID string) error
	ReplayFailed(ctx context.Context, name string, since time.Time) (int, error)
	Rotate(ctx context.Context, name string, secret *string, overlap time.Duration) (*webhooks.Created, error)
}

var (
	_ WebhookAdmin = (*webhooks.Webhooks)(nil)
	_ WebhookLog   = (*webhooks.Webhooks)(nil)
)

// registerWebhooks serves {base}/admin/webhooks to accounts of the administering roles.
func (h *Handler) registerWebhooks(mux *routeMux, base string) {
	if h.hooks == nil {
		return
	}
	p := base + "/admin/webhooks"
	admin := func(fn http.HandlerFunc) http.HandlerFunc { return h.authenticate(h.adminOnly("webhooks", fn)) }
	mux.HandleFunc("GET "+p, admin(h.listWebhooks))
	mux.HandleFunc("POST "+p, admin(h.noParams(h.createWebhook)))
	mux.HandleFunc("GET "+p+"/{name}", admin(h.getWebhook))
	mux.HandleFunc("PATCH "+p+"/{name}", admin(h.noParams(h.updateWebhook)))
	mux.HandleFunc("DELETE "+p+"/{name}", admin(h.noParams(h.deleteWebhook)))
	mux.HandleFunc("POST "+p+"/{name}/rotate", admin(h.noParams(h.rotateWebhook)))
	mux.HandleFunc("GET "+p+"/{name}/deliveries", admin(h.webhookDeliveries))
	mux.HandleFunc("POST "+p+"/{name}/replay", admin(h.noParams(h.replayFailed)))
	mux.HandleFunc("POST "+p+"/{name}/deliveries/{message}/replay", admin(h.noParams(h.replayOne)))
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) {
	list, err := h.hooks.List(r.Context())
	if list == nil {
		list = []*webhooks.Subscription{}
	}
	h.webhookAnswer(w, r, http.StatusOK, map[string]any{"items": list}, err)
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request) {
	s, err := h.hooks.Get(r.Context(), r.PathValue("name"))
	h.webhookAnswer(w, r, http.StatusOK, s, err)
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	var in webhooks.Input
	if err := h.decodeStrict(r, &in); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	c, err := h.hooks.Create(r.Context(), in)
	if err == nil {
		w.Header().Set("Location", r.URL.Path+"/"+c.Name)
	}
	h.webhookAnswer(w, r, http.StatusCreated, c, err)
}

func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request) {
	var in webhooks.Input
	if err := h.decodeStrict(r, &in); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	s, err := h.hooks.Update(r.Context(), r.PathValue("name"), in)
	h.webhookAnswer(w, r, http.StatusOK, s, err)
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	if err := h.hooks.Delete(r.Context(), r.PathValue("name")); err != nil {
		WriteError(w, r, h.log, webhookError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) rotateWebhook(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Secret  *string `json:"secret"`
		Overlap string  `json:"overlap"` // how long the old secret keeps signing; default 24h
	}
	if err := h.decodeStrict(r, &in); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	overlap := 24 * time.Hour
	if in.Overlap != "" {
		d, err := time.ParseDuration(in.Overlap)
		if err != nil || d < 0 || d > 30*24*time.Hour {
			WriteError(w, r, h.log, invalidParam("overlap", "a duration such as 24h, at most 720h"))
			return
		}
		overlap = d
	}
	c, err := h.hookLog.Rotate(r.Context(), r.PathValue("name"), in.Secret, overlap)
	h.webhookAnswer(w, r, http.StatusOK, c, err)
}

func (h *Handler) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	limit, before, errs := adminPage(r.URL.Query())
	if h.listRefused(w, r, errs, nil) {
		return
	}
	list, err := h.hookLog.Attempts(r.Context(), r.PathValue("name"), webhooks.AttemptOpts{Before: before, Limit: limit})
	body := map[string]any{"items": list}
	if limit == 0 {
		limit = webhooks.DefaultAttemptPage
	}
	if n := len(list); n > 0 && n == limit {
		body["next_before"] = list[n-1].ID // as the jobs list: the next page starts below it
	}
	h.webhookAnswer(w, r, http.StatusOK, body, err)
}

func (h *Handler) replayFailed(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Since string `json:"since"` // text: a malformed time is the field's error, not the body's
	}
	if err := h.decodeStrict(r, &in); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	since, err := time.Parse(time.RFC3339Nano, in.Since)
	if err != nil || since.IsZero() {
		WriteError(w, r, h.log, invalidParam("since", "an RFC 3339 time: failed deliveries since then are sent again"))
		return
	}
	n, err := h.hookLog.ReplayFailed(r.Context(), r.PathValue("name"), since)
	h.webhookAnswer(w, r, http.StatusAccepted, map[string]any{"replayed": n}, err)
}

func (h *Handler) replayOne(w http.ResponseWriter, r *http.Request) {
	if _, err := h.hooks.Get(r.Context(), r.PathValue("name")); err != nil {
		WriteError(w, r, h.log, webhookError(err))
		return
	}
	err := h.hookLog.Replay(r.Context(), r.PathValue("message"))
	h.webhookAnswer(w, r, http.StatusAccepted, map[string]any{"replayed": 1}, err)
}

// decodeStrict reads a JSON body into v; unknown keys are errors. An empty body is {}.
func (h *Handler) decodeStrict(r *http.Request, v any) error {
	body, err := readBody(r, h.maxBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	parsed, err := strictjson.Decode(body) // duplicate keys, NUL, lone surrogates: as every body
	if err != nil {
		return malformed(err)
	}
	if _, ok := parsed.(map[string]any); !ok {
		return service.Errorf(service.CodeMalformed, "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return plainDecodeError(err, v)
	}
	return nil
}

// plainDecodeError says what encoding/json refused in the API's words: its own text names Go
// types (webhooks.Input, []string), which are no client's business.
func plainDecodeError(err error, v any) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		want := jsonKind(te.Type.Kind())
		if listField(v, te.Field) { // ["a", 1]: the type error names the element's type
			want = "a list, each item " + want
		}
		return &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields",
			Fields: []service.FieldError{{Field: te.Field, Code: "type", Message: "must be " + want}}}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field, _ := strconv.Unquote(name)
		return &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields",
			Fields: []service.FieldError{{Field: field, Code: "unknown_field", Message: "is not a field of this request"}}}
	}
	return service.Errorf(service.CodeMalformed, "the body is not a valid JSON object for this request")
}

// listField reports whether the struct v points to has a list field named name in JSON.
func listField(v any, name string) bool {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name || (tag == "" && f.Name == name) {
			ft := f.Type
			for ft.Kind() == reflect.Pointer { // optional fields: *[]string
				ft = ft.Elem()
			}
			return ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array
		}
	}
	return false
}

// jsonKind names what a JSON value must be to fill a Go value of kind k.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "of another type"
}

func invalidParam(field, msg string) error {
	return &service.Error{Code: service.CodeValidation, Message: "the request has invalid values",
		Fields: []service.FieldError{{Field: field, Code: "format", Message: msg}}}
}

func (h *Handler) webhookAnswer(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		WriteError(w, r, h.log, webhookError(err))
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, append(b, '\n'))
}

// Stable error codes of the webhook APIs.
const (
	CodeWebhookURLForbidden = "webhook_url_forbidden"
	CodeWebhookSignature    = "webhook_signature_invalid"
	CodeWebhookStale        = "webhook_timestamp_stale"
	CodeWebhookMalformed    = "webhook_malformed"
	// CodeWebhookNotConfigured: the endpoint's secret variable is unset (503: the sender retries).
	CodeWebhookNotConfigured = "webhook_not_configured"
)

// webhookError gives a webhooks error its code; the status comes from the one table.
func webhookError(err error) error {
	var inv *webhooks.InvalidError
	switch {
	case errors.As(err, &inv):
		e := &service.Error{Code: service.CodeValidation, Message: "the subscription has invalid values"}
		for _, f := range inv.Fields {
			e.Fields = append(e.Fields, service.FieldError{Field: f.Field, Code: f.Code, Message: f.Message})
			if f.Code == "forbidden_address" {
				e.Code, e.Class = CodeWebhookURLForbidden, service.CodeValidation
				e.Message = "webhooks may not reach private, loopback, link-local or metadata addresses"
			}
		}
		return e
	case errors.Is(err, webhooks.ErrNotFound), errors.Is(err, webhooks.ErrNoMessage):
		return service.Errorf(service.CodeNotFound, "%s", err.Error())
	case errors.Is(err, webhooks.ErrExists):
		return &service.Error{Code: "webhook_exists", Class: service.CodeConflict, Message: err.Error()}
	case errors.Is(err, webhooks.ErrFromSpec):
		return &service.Error{Code: "webhook_declared_in_spec", Class: service.CodeConflict, Message: err.Error()}
	case errors.Is(err, webhooks.ErrBadSignature):
		return &service.Error{Code: CodeWebhookSignature, Class: service.CodeMalformed, Message: err.Error()}
	case errors.Is(err, webhooks.ErrNoEventID), errors.Is(err, webhooks.ErrMalformed):
		return &service.Error{Code: CodeWebhookMalformed, Class: service.CodeMalformed, Message: err.Error()}
	case errors.Is(err, webhooks.ErrStale):
		return &service.Error{Code: CodeWebhookStale, Class: service.CodeMalformed, Message: err.Error()}
	case errors.Is(err, webhooks.ErrNoSecret):
		return &service.Error{Code: CodeWebhookNotConfigured, Class: service.CodeUnavailable, Message: err.Error()}
	}
	return err
}
