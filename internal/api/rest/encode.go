package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln/internal/files"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// encoder writes records of one resource as JSON in field order, without building maps.
type encoder struct {
	res   *spec.Resource
	files *files.Files // describes file fields; nil when the spec has none
}

// view says which fields to write and which relations are expanded.
type view struct {
	fields   map[string]bool // nil: all visible
	expanded map[string]*service.Expansion
	spec     *spec.Spec
	nested   bool // an expanded record: its inverses are shown only when expanded below it
}

func (e encoder) record(b *bytes.Buffer, rec *store.Record, v view) {
	// The system fields come whatever ?fields= asks for: the schema promises them.
	b.WriteString(`{"id":`)
	appendString(b, rec.ID)
	b.WriteString(`,"created_at":`)
	appendTime(b, rec.CreatedAt)
	b.WriteString(`,"updated_at":`)
	appendTime(b, rec.UpdatedAt)
	for i, f := range e.res.Fields {
		if f.Hidden || !v.want(f.Name) {
			continue
		}
		if exp := v.expanded[f.Name]; exp != nil {
			b.WriteString(`,"` + f.Name + `":`)
			e.expandedValue(b, f, rec, rec.Values[i], exp, v)
			continue
		}
		if f.IsInverse() {
			continue // listed only when expanded
		}
		b.WriteString(`,"` + f.Name + `":`)
		if raw, ok := rec.Values[i].(string); ok && f.Type == spec.TypeJSON {
			b.WriteString(raw) // stored as the JSON text the client sent, re-encoded on write
			continue
		}
		if f.Type == spec.TypeFile {
			e.fileValue(b, f, rec.Values[i])
			continue
		}
		appendValue(b, rec.Values[i])
	}
	b.WriteByte('}')
}

func (e encoder) expandedValue(b *bytes.Buffer, f *spec.Field, rec *store.Record, val any, exp *service.Expansion, v view) {
	sub := encoder{res: v.spec.Resource(f.Relation.To), files: e.files}
	nested := view{spec: v.spec, nested: true, expanded: exp.Nested}
	switch {
	case f.IsInverse():
		b.WriteByte('[')
		for i, child := range exp.ByParent[rec.ID] {
			if i > 0 {
				b.WriteByte(',')
			}
			sub.record(b, child, nested)
		}
		b.WriteByte(']')
	case f.IsToMany():
		ids, _ := val.([]string)
		b.WriteByte('[')
		n := 0
		for _, id := range ids {
			if target := exp.ByID[id]; target != nil {
				if n > 0 {
					b.WriteByte(',')
				}
				sub.record(b, target, nested)
				n++
			}
		}
		b.WriteByte(']')
	default:
		id, _ := val.(string)
		if target := exp.ByID[id]; target != nil {
			sub.record(b, target, nested)
		} else {
			b.WriteString("null")
		}
	}
}

// fileValue writes a file field as its files' descriptions with the URLs to read them; no
// file is null, or [] for a list of files (max_files > 1), as the OpenAPI document says.
func (e encoder) fileValue(b *bytes.Buffer, f *spec.Field, stored any) {
	none := "null"
	if f.File != nil && f.File.MaxFiles > 1 {
		none = "[]"
	}
	if e.files == nil || stored == nil {
		b.WriteString(none)
		return
	}
	v, err := e.files.Views(context.Background(), e.res.Name, f, stored)
	if err != nil || v == nil {
		b.WriteString(none) // a stored value Kiln did not write: shown as no file
		return
	}
	out, err := json.Marshal(v)
	if err != nil || string(out) == "null" {
		b.WriteString(none)
		return
	}
	b.Write(out)
}

func (v view) want(name string) bool { return v.fields == nil || v.fields[name] }

// appendTime writes t as a JSON string in value.TimeLayout (which needs no escaping).
func appendTime(b *bytes.Buffer, t time.Time) {
	b.WriteByte('"')
	b.Write(value.AppendTime(b.AvailableBuffer(), t))
	b.WriteByte('"')
}

func appendValue(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		appendString(b, x)
	case int64:
		b.Write(strconv.AppendInt(b.AvailableBuffer(), x, 10))
	case float64:
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), x, 'g', -1, 64))
	case bool:
		b.Write(strconv.AppendBool(b.AvailableBuffer(), x))
	case value.Decimal:
		b.Write(x.Append(b.AvailableBuffer()))
	case time.Time:
		appendTime(b, x)
	case []string:
		b.WriteByte('[')
		for i, s := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			appendString(b, s)
		}
		b.WriteByte(']')
	default:
		raw, _ := json.Marshal(x)
		b.Write(raw)
	}
}

// appendString writes s as a JSON string without HTML escaping.
func appendString(b *bytes.Buffer, s string) {
	if plainASCII(s) {
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode adds a newline
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			return false
		}
	}
	return true
}
