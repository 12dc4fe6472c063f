package server

import (
	"log/slog"
	"net/http"
	"sync"

	"github.com/kiln-dev/kiln/internal/api/rest"
	"github.com/kiln-dev/kiln/internal/openapi"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

// document serves the OpenAPI document, generated on its first request: most processes never
// serve it, and building it at start held its bytes (and cost its maps) in every one of them.
// The spec is validated at load, so generating it cannot fail on user input; a failure is a
// bug, answered as a 500 and logged.
type document struct {
	spec   *spec.Spec
	routes []openapi.Route
	log    *slog.Logger
	once   sync.Once
	body   []byte
	err    error
}

func (d *document) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.once.Do(func() { d.body, d.err = openapi.Generate(d.spec, d.routes...) })
	if d.err != nil {
		rest.WriteError(w, r, d.log, service.AsError(d.err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(d.body)
}
