package respcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/jsonschema"
)

// response finds the entry for status: the exact code, then its range (4XX), then default.
// resp is nil when none is declared; loc is where the (resolved) entry lies.
func (c *Checker) response(op map[string]any, status int, opLoc string) (resp map[string]any, key, loc string, err error) {
	responses, _ := op["responses"].(map[string]any)
	code := strconv.Itoa(status)
	for _, key := range []string{code, code[:1] + "XX", code[:1] + "xx", "default"} {
		if r, ok := responses[key]; ok {
			resp, loc, err := c.deref(r, opLoc+"/responses/"+key)
			return resp, key, loc, err
		}
	}
	return nil, "", "", nil
}

// deref follows $refs (#/components/responses/NotFound) to the object they name.
func (c *Checker) deref(v any, loc string) (map[string]any, string, error) {
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, loc, &jsonschema.SchemaError{Location: loc, Message: "want an object"}
		}
		ref, isRef := m["$ref"].(string)
		if !isRef {
			return m, loc, nil
		}
		target, err := c.schemas.Resolve(ref)
		if err != nil {
			return nil, loc, &jsonschema.SchemaError{Location: loc + "/$ref", Message: err.Error()}
		}
		v, loc = target, ref
	}
	return nil, loc, &jsonschema.SchemaError{Location: loc, Message: "too many $refs in a row"}
}

// checkResponse checks the Content-Type, the body and the headers against one response entry.
func (c *Checker) checkResponse(resp map[string]any, loc string, header http.Header, body []byte) ([]string, error) {
	problems, err := c.checkBody(resp, loc, header.Get("Content-Type"), body)
	if err != nil {
		return nil, err
	}
	hp, err := c.checkHeaders(resp, loc, header)
	return append(problems, hp...), err
}

// checkBody checks the media type, and a JSON body against its schema; other bodies (an
// event stream) are not read, nor is the body of a response declared without content.
func (c *Checker) checkBody(resp map[string]any, loc, contentType string, body []byte) ([]string, error) {
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		return nil, nil
	}
	key, media, ok := findMedia(content, contentType)
	if !ok {
		return []string{fmt.Sprintf("Content-Type %q is not declared (declared: %s)", contentType,
			strings.Join(sortedKeys(content), ", "))}, nil
	}
	schema, has := media["schema"]
	if !has || !strings.Contains(strings.ToLower(contentType), "json") {
		return nil, nil
	}
	value, err := decode(body)
	if err != nil {
		return []string{"body is not JSON: " + err.Error()}, nil
	}
	return bodyProblems(c.schemas.Validate(schema, loc+"/content/"+escape(key)+"/schema", value))
}

// bodyProblems turns a schema check's answer into problem lines; a schema error stays one.
func bodyProblems(err error) ([]string, error) {
	var verr *jsonschema.Error
	if err == nil || !errors.As(err, &verr) {
		return nil, err
	}
	out := make([]string, 0, len(verr.Problems)+1)
	for _, p := range verr.Problems {
		out = append(out, "body "+p.String())
	}
	if verr.More > 0 {
		out = append(out, "and "+strconv.Itoa(verr.More)+" more")
	}
	return out, nil
}

// findMedia matches a Content-Type against the declared media types: exact, type/*, */*.
func findMedia(content map[string]any, contentType string) (string, map[string]any, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", nil, false
	}
	major, _, _ := strings.Cut(mt, "/")
	for _, want := range []string{mt, major + "/*", "*/*"} {
		for key, m := range content {
			if strings.EqualFold(key, want) {
				media, _ := m.(map[string]any)
				return key, media, true
			}
		}
	}
	return "", nil, false
}

// checkHeaders checks that required headers are present and that present ones conform.
func (c *Checker) checkHeaders(resp map[string]any, loc string, header http.Header) ([]string, error) {
	var problems []string
	declared, _ := resp["headers"].(map[string]any)
	for _, name := range sortedKeys(declared) {
		h, hloc, err := c.deref(declared[name], loc+"/headers/"+escape(name))
		if err != nil {
			return nil, err
		}
		values := header.Values(name)
		if len(values) == 0 {
			if h["required"] == true {
				problems = append(problems, "required header "+name+" is missing")
			}
			continue
		}
		schema, has := h["schema"]
		if !has {
			continue
		}
		err = c.schemas.Validate(schema, hloc+"/schema", headerValue(values[0], schema))
		lines, err := bodyProblems(err)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			problems = append(problems, "header "+name+": "+strings.TrimPrefix(l, "body (root): "))
		}
	}
	return problems, nil
}

// headerValue reads a header's text as its schema's type says: a number for
// RateLimit-Remaining: 9, a boolean, otherwise the string itself.
func headerValue(text string, schema any) any {
	s, _ := schema.(map[string]any)
	types := fmt.Sprint(s["type"])
	if strings.Contains(types, "integer") || strings.Contains(types, "number") {
		var n json.Number
		if err := json.Unmarshal([]byte(text), &n); err == nil {
			return n
		}
	}
	if strings.Contains(types, "boolean") {
		if b, err := strconv.ParseBool(text); err == nil {
			return b
		}
	}
	return text
}
