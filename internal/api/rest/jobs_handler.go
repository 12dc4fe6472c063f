package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/service"
)

// Jobs is what the admin jobs API needs of the queue (jobs.Queue).
type Jobs interface {
	List(ctx context.Context, o jobs.ListOpts) ([]*jobs.Job, error)
	Get(ctx context.Context, id int64) (*jobs.Job, error)
	Retry(ctx context.Context, id int64) (*jobs.Job, error)
	Cancel(ctx context.Context, id int64) (*jobs.Job, error)
	Stats(ctx context.Context) (jobs.Stats, error)
}

var _ Jobs = (*jobs.Queue)(nil)

// registerJobs serves {base}/admin/jobs to accounts of the administering roles.
func (h *Handler) registerJobs(mux *routeMux, base string) {
	if h.jobs == nil {
		return
	}
	p := base + "/admin/jobs"
	mux.HandleFunc("GET "+p, h.authenticate(h.jobAdmin(h.listJobs)))
	mux.HandleFunc("GET "+p+"/stats", h.authenticate(h.jobAdmin(h.jobStats)))
	mux.HandleFunc("GET "+p+"/{id}", h.authenticate(h.jobAdmin(h.oneJob(func(ctx context.Context, id int64) (*jobs.Job, error) {
		return h.jobs.Get(ctx, id)
	}))))
	mux.HandleFunc("POST "+p+"/{id}/retry", h.authenticate(h.noParams(h.jobAdmin(h.oneJob(h.jobs.Retry)))))
	mux.HandleFunc("POST "+p+"/{id}/cancel", h.authenticate(h.noParams(h.jobAdmin(h.oneJob(h.jobs.Cancel)))))
	mux.refuse(p, h.methodNotAllowed("GET, HEAD"))
	mux.refuse(p+"/{id}", h.methodNotAllowed("GET, HEAD"))
}

// jobAdmin lets only a signed-in account (not an API key) of an administering role in.
func (h *Handler) jobAdmin(next http.HandlerFunc) http.HandlerFunc { return h.adminOnly("jobs", next) }

// adminOnly lets only a signed-in account (not an API key) of an administering role manage
// what.
func (h *Handler) adminOnly(what string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := service.PrincipalFrom(r.Context())
		var err error
		switch {
		case h.spec.Auth == nil:
			err = service.Errorf(service.CodeForbidden, "the %s API needs an administering account, and the spec has no auth block", what)
		case p == nil:
			err = service.Errorf(service.CodeUnauthorized, "sign in with an account of an administering role (auth.admin_roles) to manage %s", what)
		case p.KeyID != "" || !h.spec.Auth.IsAdmin(p.Role):
			err = service.Errorf(service.CodeForbidden, "only accounts of the administering roles (%s) manage %s (auth.admin_roles)", service.RoleList(h.spec.Auth.AdminRoles), what)
		}
		if err != nil {
			WriteError(w, r, h.log, err)
			return
		}
		next(w, r)
	}
}

// listJobs answers GET {base}/admin/jobs?state=&kind=&limit=&before=, newest first.
func (h *Handler) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := jobs.ListOpts{State: q.Get("state"), Kind: q.Get("kind")}
	var errs []service.FieldError
	o.Limit, o.Before, errs = adminPage(q, "state", "kind")
	list, err := h.jobs.List(r.Context(), o)
	if errors.Is(err, jobs.ErrBadState) {
		errs = append(errs, service.FieldError{Field: "state", Code: "enum", Message: err.Error()})
	}
	if h.listRefused(w, r, errs, err) {
		return
	}
	body := map[string]any{"items": list}
	if list == nil {
		body["items"] = []*jobs.Job{}
	}
	if len(list) > 0 && (o.Limit == 0 || len(list) == o.Limit) {
		body["next_before"] = list[len(list)-1].ID
	}
	h.jobJSON(w, r, body)
}

func (h *Handler) jobStats(w http.ResponseWriter, r *http.Request) {
	st, err := h.jobs.Stats(r.Context())
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	h.jobJSON(w, r, st)
}

// oneJob serves a route on one job by its id.
func (h *Handler) oneJob(fn func(ctx context.Context, id int64) (*jobs.Job, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			WriteError(w, r, h.log, service.Errorf(service.CodeNotFound, "no job has id %q", r.PathValue("id")))
			return
		}
		j, err := fn(r.Context(), id)
		var done *jobs.FinishedError
		switch {
		case errors.Is(err, jobs.ErrNotFound):
			err = service.Errorf(service.CodeNotFound, "no job has id %d", id)
		case errors.As(err, &done):
			err = service.Errorf(service.CodeConflict, "%s", done.Error())
		}
		if err != nil {
			WriteError(w, r, h.log, err)
			return
		}
		h.jobJSON(w, r, j)
	}
}

func (h *Handler) jobJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, append(b, '\n'))
}
