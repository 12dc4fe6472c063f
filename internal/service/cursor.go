package service

import (
	"bytes"
	"encoding/json"
	"net/url"
	"time"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// parsePaging reads cursor or page (not both); the default is keyset paging from the start.
func (r *resource) parsePaging(p *ListParams, params url.Values, errs *fieldErrors) {
	cursor, page := params.Get("cursor"), params.Get("page")
	if cursor != "" && page != "" {
		errs.add("cursor", "conflict", "use cursor or page, not both")
		return
	}
	if page != "" {
		n := parseIntParam(errs, "page", page, 1, maxPage)
		p.Query.Offset = (n - 1) * p.Query.Limit
		return
	}
	if cursor == "" {
		return
	}
	raws, err := query.DecodeCursor(cursor, p.sort, len(p.Query.Sort)+1)
	if err != nil {
		errs.add("cursor", "invalid_cursor", "%s", err.Error())
		return
	}
	after := make([]any, len(raws))
	for i, raw := range raws {
		name := "id"
		if i < len(p.Query.Sort) {
			name = p.Query.Sort[i].Field
		}
		v, ok := r.cursorValue(name, raw)
		if !ok {
			errs.add("cursor", "invalid_cursor", "invalid cursor: bad value")
			return
		}
		after[i] = v
	}
	p.Query.After = after
}

// cursorAfter encodes the keyset position after rec.
func (p *ListParams) cursorAfter(r *resource, rec *store.Record) string {
	vals := make([]json.RawMessage, 0, len(p.Query.Sort)+1)
	for _, s := range p.Query.Sort {
		vals = append(vals, cursorJSON(r.valueOf(rec, s.Field)))
	}
	vals = append(vals, cursorJSON(rec.ID))
	return query.EncodeCursor(p.sort, vals)
}

func (r *resource) valueOf(rec *store.Record, name string) any {
	return rec.Field(r.Resource, name)
}

func cursorJSON(v any) json.RawMessage {
	switch x := v.(type) {
	case value.Decimal:
		v = x.String()
	case time.Time:
		v = value.FormatTime(x)
	}
	b, _ := json.Marshal(v)
	return b
}

// cursorValue decodes one keyset value for the field, typed as the store expects.
func (r *resource) cursorValue(name string, raw json.RawMessage) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if v == nil {
		return nil, name != "id"
	}
	switch name {
	case "id":
		s, _ := v.(string)
		id, ok := validID(s)
		return id, ok
	case "created_at", "updated_at":
		s, _ := v.(string)
		t, err := value.ParseTime(s)
		return t, err == nil
	}
	f := r.Field(name)
	if f.Type == spec.TypeDecimal {
		s, _ := v.(string)
		d, _, err := value.Rescale(s, f.Scale)
		return d, err == nil
	}
	if f.Type == spec.TypeBoolean || f.Type == spec.TypeInteger || f.Type == spec.TypeNumber {
		out, code, _ := coerce(f, v)
		return out, code == ""
	}
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	if f.Type == spec.TypeDatetime {
		t, err := value.ParseTime(s) // a stored value: not ParseInput, the server's own cursors hold what is stored
		return t, err == nil
	}
	return s, true
}
