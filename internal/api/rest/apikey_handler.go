package rest

import (
	"bytes"
	"net/http"
	"time"

	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/service"
)

// keyAdmin lets only a signed-in account (not a key) of an administering role manage keys.
func (h *Handler) keyAdmin(r *http.Request) error {
	p := service.PrincipalFrom(r.Context())
	switch {
	case p == nil:
		return service.Errorf(service.CodeUnauthorized, "sign in with an account of an administering role (auth.admin_roles) to manage API keys")
	case p.KeyID != "" || !h.spec.Auth.IsAdmin(p.Role):
		return service.Errorf(service.CodeForbidden, "only accounts of the administering roles (%s) manage API keys (auth.admin_roles)", service.RoleList(h.spec.Auth.AdminRoles))
	}
	return nil
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) {
	if err := h.keyAdmin(r); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	in, err := decodeObject(r, h.maxBody)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	key, ttl, err := h.keyFromInput(in)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	key.CreatedBy = service.PrincipalFrom(r.Context()).ID
	created, secret, err := h.accounts.Keys().Create(r.Context(), key, ttl)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"key":`)
	appendString(&b, secret)
	b.WriteString(`,"api_key":`)
	writeKey(&b, created)
	b.WriteString("}\n")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, b.Bytes())
}

// keyFromInput reads {"name", "role", "scopes": [...], "expires_in": "720h"}.
func (h *Handler) keyFromInput(in map[string]any) (auth.APIKey, time.Duration, error) {
	var key auth.APIKey
	var ttl time.Duration
	var errs []service.FieldError
	for k, v := range in {
		switch k {
		case "name":
			key.Name, _ = v.(string)
		case "role":
			key.Role, _ = v.(string)
		case "scopes":
			list, _ := v.([]any)
			for _, item := range list {
				s, _ := item.(string)
				key.Scopes = append(key.Scopes, s)
			}
		case "expires_in":
			s, _ := v.(string)
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				errs = append(errs, service.FieldError{Field: "expires_in", Code: "format", Message: "must be a duration such as 720h"})
			}
			ttl = d
		default:
			errs = append(errs, service.FieldError{Field: k, Code: "unknown_field", Message: "is not accepted here"})
		}
	}
	if err := auth.ValidateKey(h.spec, key); err != nil {
		errs = append(errs, service.AsError(err).Fields...)
	}
	if len(errs) > 0 {
		return key, 0, &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields", Fields: errs}
	}
	return key, ttl, nil
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) {
	if err := h.keyAdmin(r); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	keys, err := h.accounts.Keys().List(r.Context())
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeKey(&b, k)
	}
	b.WriteString("]}\n")
	writeJSON(w, http.StatusOK, b.Bytes())
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	if err := h.keyAdmin(r); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	found, err := h.accounts.Keys().Revoke(r.Context(), r.PathValue("id"))
	switch {
	case err != nil:
		WriteError(w, r, h.log, err)
	case !found:
		WriteError(w, r, h.log, service.Errorf(service.CodeNotFound, "no active key has that id"))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// writeKey encodes a key's description; the secret is never part of it.
func writeKey(b *bytes.Buffer, k *auth.APIKey) {
	b.WriteString(`{"id":`)
	appendString(b, k.ID)
	b.WriteString(`,"prefix":`)
	appendString(b, k.Prefix)
	b.WriteString(`,"name":`)
	appendString(b, k.Name)
	b.WriteString(`,"role":`)
	appendString(b, k.Role)
	b.WriteString(`,"scopes":`)
	appendValue(b, append([]string{}, k.Scopes...))
	b.WriteString(`,"created_at":`)
	appendValue(b, k.CreatedAt)
	b.WriteString(`,"expires_at":`)
	appendTimePtr(b, k.ExpiresAt)
	b.WriteString(`,"last_used_at":`)
	appendTimePtr(b, k.LastUsed)
	b.WriteString(`,"revoked":`)
	appendValue(b, k.Revoked)
	b.WriteByte('}')
}

func appendTimePtr(b *bytes.Buffer, t *time.Time) {
	if t == nil {
		b.WriteString("null")
		return
	}
	appendValue(b, *t)
}
