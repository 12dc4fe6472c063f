package webhooks

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
)

// The event log keeps a file field as the text its column holds (JSON in a string, and on
// PostgreSQL as JSONB writes it back, spaces and all). A payload carries each file field as
// JSON instead — one description, or a list for a field of several files: id, name, type,
// size, width and height of an image, the sizes of its thumbnails — the same bytes on either
// database. No URLs: a protected file's are signed for a while, and a receiver reads them
// through the API (GET the record) when it wants the file.

// fileFields lists r's file fields that the event log records (hidden ones are left out).
func fileFields(r *spec.Resource) []*spec.Field {
	var out []*spec.Field
	for _, f := range r.Fields {
		if f.Type == spec.TypeFile && !f.Hidden {
			out = append(out, f)
		}
	}
	return out
}

// filesAsJSON rewrites the file fields of rec, an event log record, as JSON values.
func filesAsJSON(fields []*spec.Field, rec json.RawMessage) (json.RawMessage, error) {
	if len(fields) == 0 || len(rec) == 0 || string(rec) == "null" {
		return rec, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec, &m); err != nil {
		return nil, fmt.Errorf("read the event's record: %w", err)
	}
	for _, f := range fields {
		raw, ok := m[f.Name]
		if !ok {
			continue
		}
		v, err := fileJSON(raw, f.File.MaxFiles > 1)
		if err != nil {
			return nil, fmt.Errorf("file field %s: %w", f.Name, err)
		}
		m[f.Name] = v
	}
	return json.Marshal(m)
}

// fileJSON is the JSON of one file field whose event value is raw: a string holding the stored
// JSON, or null (no file: [] for a list of files, as the API shows it). Decoded and encoded again, its keys come in one order (encoding/json's) and
// without PostgreSQL's spaces.
func fileJSON(raw json.RawMessage, list bool) (json.RawMessage, error) {
	var text *string
	if err := json.Unmarshal(raw, &text); err != nil {
		return nil, err
	}
	if text == nil || *text == "" || *text == "null" {
		if list {
			return json.RawMessage("[]"), nil
		}
		return json.RawMessage("null"), nil
	}
	dec := json.NewDecoder(strings.NewReader(*text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
