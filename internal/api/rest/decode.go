package rest

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/strictjson"
)

// decodeObject reads a JSON object body strictly: application/json only, within the size
// limit, one object, numbers kept exact as json.Number; invalid UTF-8, lone surrogates, NUL
// characters and duplicate keys are refused (strictjson) before anything reaches the store.
func decodeObject(r *http.Request, limit int64) (map[string]any, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
		return nil, service.Errorf(service.CodeUnsupportedType, "send the body as application/json")
	}
	body, err := readBody(r, limit)
	if err != nil {
		return nil, err
	}
	v, err := strictjson.Decode(body)
	if err != nil {
		return nil, malformed(err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, service.Errorf(service.CodeMalformed, "the body must be a JSON object")
	}
	return obj, nil
}

// readBody reads the whole body within the size limit.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if err := plainEncoding(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, service.Errorf(service.CodePayloadTooLarge, "the body is larger than %d bytes", limit)
	}
	if err != nil {
		return nil, service.Errorf(service.CodeMalformed, "the body could not be read")
	}
	return body, nil
}

// readCloser hands a body already read back to the handler.
type readCloser struct{ io.Reader }

func (readCloser) Close() error { return nil }

// malformed describes a body strictjson refused: syntax errors by byte offset, text and key
// problems by the JSON path they sit at, each with its stable code.
func malformed(err error) error {
	var e *strictjson.Error
	if !errors.As(err, &e) {
		return service.Errorf(service.CodeMalformed, "the body is not valid JSON")
	}
	if e.Code == strictjson.CodeSyntax {
		return service.Errorf(service.CodeMalformed, "the body is not valid JSON: %s", e.Error())
	}
	field := e.Path
	if field == "" {
		field = "body"
	}
	return &service.Error{Code: service.CodeMalformed, Message: "the body is not acceptable JSON: " + e.Error(),
		Fields: []service.FieldError{{Field: field, Code: e.Code, Message: e.Msg}}}
}

// plainEncoding refuses a body sent with a Content-Encoding (gzip, br): Kiln reads bodies as
// sent, and a compressed one read as JSON or as a file was answered as bad JSON (an
// unexpected '\x1f') or stored compressed. RFC 9110 §15.5.16: 415, saying what is accepted.
func plainEncoding(r *http.Request) error {
	for _, enc := range r.Header.Values("Content-Encoding") {
		for _, e := range strings.Split(enc, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "identity") {
				return service.Errorf(service.CodeUnsupportedType, "Content-Encoding %s is not accepted: send the body uncompressed", e)
			}
		}
	}
	return nil
}
