package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/strictjson"
)

// referenceObject is what a strict decoder must make of a body: the object encoding/json
// reads from it (numbers as json.Number), or false when the body is not exactly one JSON
// object, whitespace around it allowed.
func referenceObject(body []byte) (map[string]any, bool) {
	if !json.Valid(body) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// refusedText is the strictjson code a JSON text is refused with for its content (not its
// syntax), or "".
func refusedText(body []byte) string {
	var e *strictjson.Error
	if _, err := strictjson.Decode(body); errors.As(err, &e) && e.Code != strictjson.CodeSyntax {
		return e.Code
	}
	return ""
}

// FuzzDecodeObject holds the request-body decoder to encoding/json: it accepts exactly the
// bodies that are one JSON object (sent as JSON, within the limit) and returns that object
// with every number's text intact; everything else is a client error with a stable code,
// never a panic or an internal error.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{"name":"x","price":29.99}`, `{"a":1}{"b":2}`, `{"a":1}}`, `{"a":1}]`, `[1]`, `"x"`, ``,
		` {"n": 1e400, "m": -0.000000000000000000001} `, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":1,"a":2}`, `null`, `{`} {
		f.Add([]byte(s), uint8(0))
	}
	types := []string{"application/json", "application/json; charset=utf-8", "application/merge-patch+json", "text/plain", ""}
	const limit = 256
	f.Fuzz(func(t *testing.T, body []byte, ct uint8) {
		mt := types[int(ct)%len(types)]
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", mt)
		got, err := decodeObject(req, limit)
		want, ok := referenceObject(body)
		var se *service.Error
		switch {
		case int(ct)%len(types) >= 3:
			if !errors.As(err, &se) || se.Code != service.CodeUnsupportedType {
				t.Fatalf("content type %q: %v", mt, err)
			}
		case len(body) > limit:
			if !errors.As(err, &se) || se.Code != service.CodePayloadTooLarge {
				t.Fatalf("%d bytes over a limit of %d: %v", len(body), limit, err)
			}
		case ok && refusedText(body) != "":
			// encoding/json reads it, but it holds NUL, bad UTF-8, a lone surrogate or a
			// duplicate key: refused with that code (strictjson's own fuzz holds the rest).
			if !errors.As(err, &se) || se.Code != service.CodeMalformed || len(se.Fields) != 1 || se.Fields[0].Code != refusedText(body) {
				t.Fatalf("%q: %v, want malformed_request %s", body, err, refusedText(body))
			}
		case ok:
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: decoded %#v (%v), encoding/json reads %#v", body, got, err, want)
			}
		default:
			if err == nil {
				t.Fatalf("%q is not one JSON object, yet decoded as %#v", body, got)
			}
			if !errors.As(err, &se) || se.Code != service.CodeMalformed {
				t.Fatalf("%q: %v is not a malformed_request", body, err)
			}
		}
	})
}

// A body sent with a Content-Encoding is refused as 415, saying so: a gzipped JSON body was
// read as bad JSON ("unexpected character '\x1f'", 400), a gzipped upload stored compressed.
// identity is no encoding.
func TestEncodedBodyIsUnsupported(t *testing.T) {
	t.Parallel()
	for enc, want := range map[string]string{"gzip": "Content-Encoding gzip is not accepted: send the body uncompressed",
		"identity, br": "Content-Encoding br is not accepted: send the body uncompressed", "identity": "", "": ""} {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(`{"a":1}`)))
		req.Header.Set("Content-Type", "application/json")
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		_, err := decodeObject(req, 256)
		if want == "" {
			if err != nil {
				t.Fatalf("%q: %v", enc, err)
			}
			continue
		}
		var se *service.Error
		if !errors.As(err, &se) || se.Code != service.CodeUnsupportedType || se.Message != want {
			t.Fatalf("%q: %v, want 415 %q", enc, err, want)
		}
		if _, _, err := uploadBody(req, 256); !errors.As(err, &se) || se.Code != service.CodeUnsupportedType {
			t.Fatalf("upload, %q: %v", enc, err)
		}
	}
}
