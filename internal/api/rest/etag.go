package rest

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Entity tags are computed from what a read returned, never from encoded bytes, so a
// matching If-None-Match is answered 304 without encoding the body:
//
//   - a record: "<version>" for its default representation; "<version>-<state>" when it has
//     relation values (service.StateTag: a relation set to null, or a link removed, because
//     the other record was deleted, changes neither version nor updated_at); either followed by
//     ".<hash>" when the representation also depends on what the stored record does not hold —
//     the ?fields= selection, expanded records at every level (their ids and versions, read under the
//     caller's own view rules), a private file's signed URL window. If-Match compares the
//     version and the state, which is what a write can be conditional on;
//   - a list page: W/"<hash>" of the query string, each record as above, next_cursor and total.
//
// The hash is 64-bit FNV-1a: it tells representations apart, it guards no secret.
type tagHash uint64

const (
	fnvOffset tagHash = 14695981039346656037
	fnvPrime  tagHash = 1099511628211
)

func (h *tagHash) str(s string) {
	for i := 0; i < len(s); i++ {
		*h = (*h ^ tagHash(s[i])) * fnvPrime
	}
	h.end()
}

// end writes a separator byte no UTF-8 text holds: "ab","c" and "a","bc" hash apart.
func (h *tagHash) end() { *h = (*h ^ 0xff) * fnvPrime }

func (h *tagHash) int(n int64) {
	var buf [20]byte
	for _, c := range strconv.AppendInt(buf[:0], n, 10) {
		*h = (*h ^ tagHash(c)) * fnvPrime
	}
	h.end()
}

// recordTag is the strong ETag of rec as v shows it.
func (e encoder) recordTag(rec *store.Record, v view) string {
	h := fnvOffset
	b := make([]byte, 0, 40)
	b = append(b, '"')
	b = strconv.AppendInt(b, rec.Version, 10)
	if state := service.StateTag(e.res, rec); state != "" {
		b = append(b, '-')
		b = append(b, state...)
	}
	if e.hashShape(&h, rec, v) {
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(h), 16)
	}
	return string(append(b, '"'))
}

// hashShape adds to h what rec's representation depends on besides its version and state, and
// says whether there was any: the selected fields, expanded records (with relation values
// in them) and signed URL windows, walked in the encoder's order.
func (e encoder) hashShape(h *tagHash, rec *store.Record, v view) bool {
	shaped := v.fields != nil
	for i, f := range e.res.Fields {
		if f.Hidden || !v.want(f.Name) || (v.nested && f.IsInverse() && v.expanded[f.Name] == nil) {
			continue
		}
		if v.fields != nil {
			h.str(f.Name)
		}
		if exp := v.expanded[f.Name]; exp != nil {
			h.str("expand:" + f.Name)
			e.hashExpanded(h, f, rec, rec.Values[i], exp, v)
			shaped = true
			continue
		}
		switch val := rec.Values[i].(type) {
		case string:
			if f.Type == spec.TypeFile && e.files != nil && !f.File.Public {
				h.str(f.Name) // signed URLs: the answer changes with their expiry window
				h.int(e.files.WindowTag())
				shaped = true
			}
			if f.Relation != nil && val != "" {
				h.str(f.Name)
				h.str(val) // an expanded record's relations: the top record's are its state
			}
		case []string:
			if len(val) > 0 {
				h.str(f.Name)
				for _, id := range val {
					h.str(id)
				}
			}
		}
	}
	return shaped
}

// hashExpanded adds the records an expanded relation shows, in the order they are written,
// and what is expanded on them (?expand=unit.property): every level's records are in the tag.
func (e encoder) hashExpanded(h *tagHash, f *spec.Field, rec *store.Record, val any, exp *service.Expansion, v view) {
	sub := encoder{res: v.spec.Resource(f.Relation.To), files: e.files}
	nested := view{spec: v.spec, nested: true, expanded: exp.Nested}
	one := func(r *store.Record) {
		if r == nil {
			h.str("null")
			return
		}
		h.str(r.ID)
		h.int(r.Version)
		sub.hashShape(h, r, nested)
	}
	switch {
	case f.IsInverse():
		for _, child := range exp.ByParent[rec.ID] {
			one(child)
		}
	case f.IsToMany():
		ids, _ := val.([]string)
		for _, id := range ids {
			if target := exp.ByID[id]; target != nil {
				one(target)
			}
		}
	default:
		id, _ := val.(string)
		one(exp.ByID[id])
	}
}

// listTag is the weak ETag of a list page: the same query over the same records (ids,
// versions, relation values, expansions), cursor and total gives the same tag.
func (e encoder) listTag(rawQuery string, page *service.Page, v view) string {
	h := fnvOffset
	h.str(rawQuery)
	for _, rec := range page.Records {
		h.str(rec.ID)
		h.int(rec.Version)
		e.hashShape(&h, rec, v)
	}
	h.str(page.NextCursor)
	if page.Total != nil {
		h.int(*page.Total)
	}
	return `W/"` + strconv.FormatUint(uint64(h), 16) + `"`
}

// notModified says whether If-None-Match names tag (or is *): weak comparison, RFC 9110
// §13.1.2, over a comma-separated list.
func notModified(r *http.Request, tag string) bool {
	header := r.Header.Values("If-None-Match")
	if len(header) == 0 {
		return false
	}
	want := strings.TrimPrefix(tag, "W/")
	for _, line := range header {
		for _, t := range strings.Split(line, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == want {
				return true
			}
		}
	}
	return false
}

// writeNotModified answers 304 with the tag and no body.
func writeNotModified(w http.ResponseWriter, tag string) {
	w.Header().Set("ETag", tag)
	w.WriteHeader(http.StatusNotModified)
}
