package rest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/kiln-dev/kiln/internal/service"
)

func (h *Handler) registerPassword(mux *routeMux, p string) {
	mux.HandleFunc("POST "+p+"password", h.authGroup(h.authenticate(h.noParams(h.changePassword))))
	mux.HandleFunc("POST "+p+"password/reset", h.authGroup(h.noParams(h.requestReset)))
	mux.HandleFunc("POST "+p+"password/reset/confirm", h.authGroup(h.noParams(h.confirmReset)))
	mux.HandleFunc("POST "+p+"verify", h.authGroup(h.authenticate(h.noParams(h.requestVerification))))
	mux.HandleFunc("POST "+p+"verify/confirm", h.authGroup(h.noParams(h.confirmVerification)))
	mux.HandleFunc("POST "+p+"invites", h.authenticate(h.noParams(h.invite)))
	mux.HandleFunc("POST "+p+"email", h.authGroup(h.authenticate(h.noParams(h.changeEmail))))
	mux.HandleFunc("POST "+p+"accounts/{id}/password", h.authGroup(h.authenticate(h.noParams(h.resetAccountPassword))))
}

func (h *Handler) changeEmail(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "current_password", "new_email")
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	rec, err := h.accounts.ChangeEmail(r.Context(), service.PrincipalFrom(r.Context()), in["current_password"], in["new_email"])
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	h.writeRecord(w, http.StatusOK, h.accounts.Resource().Name, rec, view{spec: h.spec})
}

func (h *Handler) resetAccountPassword(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "new_password")
	if err == nil {
		err = h.accounts.ResetAccountPassword(r.Context(), service.PrincipalFrom(r.Context()), r.PathValue("id"), in["new_password"])
	}
	h.noContent(w, r, http.StatusNoContent, err)
}

func (h *Handler) invite(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "email", "role")
	if err == nil {
		err = h.accounts.Invite(r.Context(), service.PrincipalFrom(r.Context()), in["email"], in["role"])
	}
	h.noContent(w, r, http.StatusAccepted, err)
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "current_password", "new_password")
	if err == nil {
		err = h.accounts.ChangePassword(r.Context(), service.PrincipalFrom(r.Context()), in["current_password"], in["new_password"])
	}
	h.noContent(w, r, http.StatusNoContent, err)
}

// requestReset answers 202 at once, alike for every address; the reset budgets (per client
// address and per email) are separate from failed logins, so resets never lock anybody out
// of logging in.
func (h *Handler) requestReset(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "email")
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(in["email"]))))
	if !h.spend(w, r, "reset-ip:"+h.clientIP(r), &h.rates.passwordReset) ||
		!h.spend(w, r, "reset-email:"+hex.EncodeToString(sum[:16]), &h.rates.passwordResetEmail) {
		return
	}
	h.noContent(w, r, http.StatusAccepted, h.accounts.RequestReset(r.Context(), in["email"]))
}

func (h *Handler) confirmReset(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "token", "new_password")
	if err == nil {
		err = h.accounts.ConfirmReset(r.Context(), in["token"], in["new_password"])
	}
	h.noContent(w, r, http.StatusNoContent, err)
}

func (h *Handler) requestVerification(w http.ResponseWriter, r *http.Request) {
	h.noContent(w, r, http.StatusAccepted, h.accounts.RequestVerification(r.Context(), service.PrincipalFrom(r.Context())))
}

func (h *Handler) confirmVerification(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "token")
	if err == nil {
		err = h.accounts.ConfirmVerification(r.Context(), in["token"])
	}
	h.noContent(w, r, http.StatusNoContent, err)
}

func (h *Handler) noContent(w http.ResponseWriter, r *http.Request, status int, err error) {
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.WriteHeader(status)
}
