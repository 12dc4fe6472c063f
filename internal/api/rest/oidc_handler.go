package rest

import (
	"net/http"
)

func (h *Handler) registerOIDC(mux *routeMux, base string) {
	if h.oidc == nil || !h.oidc.Enabled() {
		return
	}
	p := base + "/auth/oauth/{provider}/"
	mux.HandleFunc("GET "+p+"start", h.authGroup(func(w http.ResponseWriter, r *http.Request) {
		target, err := h.oidc.Start(w, r, r.PathValue("provider"))
		if err != nil {
			WriteError(w, r, h.log, err)
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
	}))
	mux.HandleFunc("GET "+p+"callback", h.authGroup(func(w http.ResponseWriter, r *http.Request) {
		pair, err := h.oidc.Callback(w, r, r.PathValue("provider"))
		h.writePair(w, r, http.StatusOK, pair, err)
	}))
}
