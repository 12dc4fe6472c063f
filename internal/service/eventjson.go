package service

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// The event log keeps a record as encoding/json writes the map of its system fields and
// public fields (PublicFields): keys in byte order, HTML characters escaped. Every write
// encodes one or two such records inside its transaction, so eventJSON writes the same bytes
// without building the map or reflecting on it: the keys' order and text are fixed per
// resource, the common values are written directly, and any other value goes through
// json.Marshal on its own — which writes a map's value as it writes it alone.

// eventKey is one key of a resource's event JSON, in the order written.
type eventKey struct {
	prefix []byte // `{"name":` or `,"name":`
	field  int    // index in the resource's fields; < 0 for a system field
	many   bool   // a to-many relation: its ids, [] when it links nothing (as a GET shows it)
}

const (
	sysID      = store.KeyID
	sysCreated = store.KeyCreated
	sysUpdated = store.KeyUpdated
	sysVersion = store.KeyVersion
)

// eventKeys lists r's keys in encoding/json's map order (the four system keys at least).
func eventKeys(r *spec.Resource) []eventKey {
	type named struct {
		name  string
		field int
		many  bool
	}
	keys := []named{{"id", sysID, false}, {"created_at", sysCreated, false}, {"updated_at", sysUpdated, false}, {"version", sysVersion, false}}
	for i, f := range r.Fields {
		if f.Hidden || f.IsInverse() || slices.ContainsFunc(keys, func(k named) bool { return k.name == f.Name }) {
			continue // a field named like a system field is overwritten by it, as in the map
		}
		keys = append(keys, named{f.Name, i, f.IsToMany()})
	}
	slices.SortFunc(keys, func(a, b named) int { return cmp.Compare(a.name, b.name) })
	out := make([]eventKey, len(keys))
	for i, k := range keys {
		name, _ := json.Marshal(k.name)
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		out[i] = eventKey{prefix: append(append([]byte{sep}, name...), ':'), field: k.field, many: k.many}
	}
	return out
}

// eventJSON is json.Marshal of the record's map (see above); ok is false when rec lacks a
// field's value, and the caller builds the map instead. size is the buffer's first capacity
// (the resource's eventSize; 256 when 0).
func eventJSON(keys []eventKey, rec *store.Record, size int) ([]byte, bool, error) {
	if size <= 0 {
		size = 256
	}
	b := make([]byte, 0, size)
	for _, k := range keys {
		b = append(b, k.prefix...)
		var err error
		switch k.field {
		case sysID:
			b = appendEventString(b, rec.ID)
		case sysCreated:
			b, err = appendEventValue(b, rec.CreatedAt)
		case sysUpdated:
			b, err = appendEventValue(b, rec.UpdatedAt)
		case sysVersion:
			b = strconv.AppendInt(b, rec.Version, 10)
		default:
			if k.field >= len(rec.Values) {
				return nil, false, nil
			}
			if ids, _ := rec.Values[k.field].([]string); k.many && len(ids) == 0 {
				b = append(b, "[]"...)
				continue
			}
			b, err = appendEventValue(b, rec.Values[k.field])
		}
		if err != nil {
			return nil, true, err
		}
	}
	return append(b, '}'), true, nil
}

// maxEventSize bounds the first capacity of an event record's buffer: one record with a long
// text does not make every later buffer as large.
const maxEventSize = 8 << 10

// eventSize is the capacity to start a resource's next event record with: the largest written
// lately (bounded), so that a record is written without growing its buffer. A record that
// needed less than half of it takes a sixteenth off, so one long record is forgotten after a few
// dozen short ones instead of making every later buffer as large. Concurrent writers may lose an
// update; the next record corrects it.
type eventSize struct{ n atomic.Int64 }

func (e *eventSize) get() int { return int(e.n.Load()) }

func (e *eventSize) saw(n int) {
	cur, size := e.n.Load(), int64(n)
	switch {
	case n > maxEventSize:
	case size > cur:
		e.n.Store(size)
	case size < cur/2:
		e.n.Store(max(size, cur-cur/16))
	}
}

func appendEventValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendEventString(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case value.Decimal:
		if s := x.String(); plainNumber(s) {
			return append(b, s...), nil
		}
	case time.Time:
		if y := x.Year(); x.Location() == time.UTC && y >= 0 && y <= 9999 {
			b = append(b, '"')
			return append(x.AppendFormat(b, time.RFC3339Nano), '"'), nil
		}
	}
	raw, err := json.Marshal(publicValue(v))
	return append(b, raw...), err
}

// appendEventString writes s as encoding/json does, directly when no character of s needs
// escaping.
func appendEventString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			raw, _ := json.Marshal(s) // a string always encodes
			return append(b, raw...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainNumber reports whether s is -?(0|[1-9][0-9]*)(.[0-9]+)?: a JSON number as
// json.Number writes it verbatim.
func plainNumber(s string) bool { return mantissaEnd(s) == len(s) }

// jsonNumber reports whether s is a JSON number (RFC 8259 §6): plainNumber's form with an
// optional exponent, e or E, a sign, digits.
func jsonNumber(s string) bool {
	i := mantissaEnd(s)
	if i < 0 || i == len(s) {
		return i == len(s)
	}
	if s[i] != 'e' && s[i] != 'E' {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// mantissaEnd is where s's -?(0|[1-9][0-9]*)(.[0-9]+)? ends, or -1 when s does not start so.
func mantissaEnd(s string) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s) || !isDigit(s[i]):
		return -1
	case s[i] == '0':
		i++
	default:
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return -1
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
