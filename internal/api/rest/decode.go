package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/kiln-dev/kiln/internal/service"
)

// decodeObject reads a JSON object body strictly: application/json only, within the size
// limit, one object, numbers kept exact as json.Number.
func decodeObject(r *http.Request, limit int64) (map[string]any, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
		return nil, service.Errorf(service.CodeUnsupportedType, "send the body as application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, service.Errorf(service.CodePayloadTooLarge, "the body is larger than %d bytes", limit)
	}
	if err != nil {
		return nil, service.Errorf(service.CodeMalformed, "the body could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) { // More() says false for a stray } or ]
		return nil, service.Errorf(service.CodeMalformed, "the body has data after the JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, service.Errorf(service.CodeMalformed, "the body must be a JSON object")
	}
	return obj, nil
}

func malformed(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return service.Errorf(service.CodeMalformed, "the body is not valid JSON (at byte %d)", se.Offset)
	}
	if errors.Is(err, io.EOF) {
		return service.Errorf(service.CodeMalformed, "the body is empty")
	}
	return service.Errorf(service.CodeMalformed, "the body is not valid JSON")
}
