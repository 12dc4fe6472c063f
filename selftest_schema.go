package kiln

import (
	"net/http"
	"sync"

	"github.com/kiln-dev/kiln/internal/openapi"
	"github.com/kiln-dev/kiln/internal/respcheck"
)

// schemaChecker checks responses against the app's own OpenAPI document, read once.
type schemaChecker struct {
	once sync.Once
	c    *respcheck.Checker
	err  error
}

// CheckSchema validates one response against the OpenAPI document (response_schema: true).
func (e *TestEnv) CheckSchema(req *http.Request, status int, header http.Header, body []byte) error {
	e.schema.once.Do(func() {
		doc, err := openapi.Generate(e.app.Spec, e.app.routeDocs...)
		if err != nil {
			e.schema.err = err
			return
		}
		e.schema.c, e.schema.err = respcheck.New(doc)
	})
	if e.schema.err != nil {
		return e.schema.err
	}
	return e.schema.c.Check(req.Method, req.URL.Path, status, header, body)
}
