package rest

import (
	"context"
	"net/http"

	"github.com/kiln-dev/kiln/internal/integrations/webhooks"
)

// Incoming verifies and records incoming webhooks (webhooks.Webhooks).
type Incoming interface {
	Receive(ctx context.Context, name string, h http.Header, body []byte) (*webhooks.Received, error)
}

var _ Incoming = (*webhooks.Webhooks)(nil)

// registerIncoming serves each incoming webhook endpoint of the spec at its path, without
// authentication: the signature is the credential.
func (h *Handler) registerIncoming(mux *routeMux) {
	if h.incoming == nil {
		return
	}
	for _, in := range h.spec.Webhooks.Incoming {
		name, limit := in.Name, in.MaxBodyBytes
		mux.HandleFunc("POST "+in.Path, func(w http.ResponseWriter, r *http.Request) {
			body, err := readBody(r, limit)
			if err != nil {
				WriteError(w, r, h.log, err)
				return
			}
			got, err := h.incoming.Receive(r.Context(), name, r.Header, body)
			if err != nil {
				WriteError(w, r, h.log, webhookError(err))
				return
			}
			h.webhookAnswer(w, r, http.StatusOK, map[string]any{"received": true, "event_id": got.EventID, "duplicate": got.Duplicate}, nil)
		})
		mux.refuse(in.Path, h.methodNotAllowed("POST"))
	}
}
