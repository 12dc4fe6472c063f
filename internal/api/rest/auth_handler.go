package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/service"
)

// authenticate reads "Authorization: Bearer <token>" into the request's principal. No header
// is an anonymous request; a bad one is 401, even where anonymous requests are allowed.
func (h *Handler) authenticate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, sent, err := credential(r)
		if err != nil {
			WriteError(w, r, h.log, err)
			return
		}
		if !sent || h.accounts == nil {
			if h.limit(w, r, nil, false) {
				next(w, r)
			}
			return
		}
		p, err := h.accounts.Authenticate(r.Context(), token)
		if err != nil {
			WriteError(w, r, h.log, err)
			return
		}
		if h.limit(w, r, p, false) {
			next(w, r.WithContext(service.WithPrincipal(r.Context(), p)))
		}
	}
}

// credential is the access token or API key r carries (Authorization: Bearer, or X-API-Key),
// whether it carries one, and a 401 for one given the wrong way.
func credential(r *http.Request) (string, bool, error) {
	header := r.Header.Get("Authorization")
	if key := r.Header.Get("X-API-Key"); key != "" && header == "" {
		if !strings.HasPrefix(key, auth.KeyPrefix) {
			return "", true, service.Errorf(service.CodeUnauthorized,
				"X-API-Key takes API keys only (%s…); send access tokens as Authorization: Bearer <token>", auth.KeyPrefix)
		}
		header = "Bearer " + key
	}
	if header == "" {
		return "", false, nil
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", true, service.Errorf(service.CodeUnauthorized, "use Authorization: Bearer <access token>")
	}
	return strings.TrimSpace(token), true, nil
}

// authGroup applies the auth endpoints' stricter per-address budget.
func (h *Handler) authGroup(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.limit(w, r, nil, true) {
			next(w, r)
		}
	}
}

func (h *Handler) registerAuth(mux *routeMux, base string) {
	if h.accounts == nil {
		return
	}
	p := base + "/auth/"
	mux.HandleFunc("POST "+p+"signup", h.authGroup(h.noParams(h.signup)))
	mux.HandleFunc("POST "+p+"login", h.authGroup(h.noParams(h.login)))
	mux.HandleFunc("POST "+p+"refresh", h.authGroup(h.noParams(h.refresh)))
	mux.HandleFunc("POST "+p+"logout", h.authGroup(h.noParams(h.logout)))
	mux.HandleFunc("GET "+p+"me", h.authenticate(h.me))
	mux.HandleFunc("GET "+p+"jwks.json", h.jwks)
	h.registerPassword(mux, p)
	mux.HandleFunc("POST "+p+"keys", h.authenticate(h.noParams(h.createKey)))
	mux.HandleFunc("GET "+p+"keys", h.authenticate(h.listKeys))
	mux.HandleFunc("DELETE "+p+"keys/{id}", h.authenticate(h.noParams(h.revokeKey)))
	mux.refuse(p+"keys", h.methodNotAllowed("GET, HEAD, POST"))
	mux.refuse(p+"keys/{id}", h.methodNotAllowed("DELETE"))
	for _, name := range []string{"signup", "login", "refresh", "logout"} {
		mux.refuse(p+name, h.methodNotAllowed("POST"))
	}
	mux.refuse(p+"me", h.methodNotAllowed("GET, HEAD"))
}

func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	in, err := decodeObject(r, h.maxBody)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	pair, err := h.accounts.Signup(r.Context(), in)
	h.writePair(w, r, http.StatusCreated, pair, err)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "email", "password")
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	pair, err := h.accounts.Login(r.Context(), in["email"], in["password"], h.clientIP(r))
	h.writePair(w, r, http.StatusOK, pair, err)
}

func (h *Handler) refresh(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "refresh_token")
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	pair, err := h.accounts.Refresh(r.Context(), in["refresh_token"])
	h.writePair(w, r, http.StatusOK, pair, err)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	in, err := h.stringFields(r, "refresh_token")
	if err == nil {
		err = h.accounts.Logout(r.Context(), in["refresh_token"])
	}
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	rec, err := h.accounts.Me(r.Context(), service.PrincipalFrom(r.Context()))
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	h.writeRecord(w, http.StatusOK, h.accounts.Resource().Name, rec, view{spec: h.spec})
}

// stringFields decodes a body of exactly the named string fields.
func (h *Handler) stringFields(r *http.Request, names ...string) (map[string]string, error) {
	in, err := decodeObject(r, h.maxBody)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var errs []service.FieldError
	for k := range in {
		if !containsName(names, k) {
			errs = append(errs, service.FieldError{Field: k, Code: "unknown_field", Message: "is not accepted here"})
		}
	}
	for _, n := range names {
		s, ok := in[n].(string)
		if !ok || s == "" {
			errs = append(errs, service.FieldError{Field: n, Code: "required", Message: "is required (a string)"})
		}
		out[n] = s
	}
	if len(errs) > 0 {
		return nil, &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields", Fields: errs}
	}
	return out, nil
}

func containsName(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (h *Handler) writePair(w http.ResponseWriter, r *http.Request, status int, pair *auth.TokenPair, err error) {
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"access_token":`)
	appendString(&b, pair.AccessToken)
	b.WriteString(`,"refresh_token":`)
	appendString(&b, pair.RefreshToken)
	b.WriteString(`,"token_type":"Bearer","expires_in":` + strconv.Itoa(pair.ExpiresIn) + `,"user":`)
	h.encoders[h.accounts.Resource().Name].record(&b, pair.User, view{spec: h.spec})
	b.WriteString("}\n")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, b.Bytes())
}

// jwks publishes the token-signing public keys, so other services can verify Kiln's tokens.
func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	keys := h.accounts.JWKS()
	if keys == nil {
		keys = []auth.JWK{}
	}
	body, _ := json.Marshal(map[string]any{"keys": keys})
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, body)
}
