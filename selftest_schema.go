package kiln

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"

	"github.com/kiln-dev/kiln/internal/openapi"
)

// schemaValidator checks responses against the app's own OpenAPI document, built once.
type schemaValidator struct {
	once sync.Once
	v    validator.Validator
	err  error
}

// CheckSchema validates one response against the OpenAPI document (response_schema: true).
func (e *TestEnv) CheckSchema(req *http.Request, status int, header http.Header, body []byte) error {
	e.schema.once.Do(func() {
		doc, err := openapi.Generate(e.app.Spec)
		if err != nil {
			e.schema.err = err
			return
		}
		// Relations make schemas refer to each other (a note's folder, a folder's notes) through
		// anyOf and arrays, which JSON allows to end: not an infinite reference.
		d, err := libopenapi.NewDocumentWithConfiguration(doc, &datamodel.DocumentConfiguration{
			IgnorePolymorphicCircularReferences: true, IgnoreArrayCircularReferences: true})
		if err != nil {
			e.schema.err = err
			return
		}
		v, errs := validator.NewValidator(d)
		if len(errs) > 0 {
			e.schema.err = errors.Join(errs...)
			return
		}
		e.schema.v = v
	})
	if e.schema.err != nil {
		return e.schema.err
	}
	// The document's server is "/", so validate a path-only copy of the request.
	vreq, _ := http.NewRequest(req.Method, req.URL.RequestURI(), nil)
	vreq.Header = req.Header.Clone()
	resp := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: vreq}
	ok, verrs := e.schema.v.ValidateHttpResponse(vreq, resp)
	if ok {
		return nil
	}
	msgs := make([]string, 0, len(verrs))
	for _, ve := range verrs {
		msgs = append(msgs, ve.Message+": "+ve.Reason)
	}
	return errors.New(strings.Join(msgs, "; "))
}
