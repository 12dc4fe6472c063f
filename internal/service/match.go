package service

import (
	"strconv"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Match is an If-Match precondition: the version and the relation state (StateTag) that an
// ETag names. A write under it is refused with 412 unless the stored record is at both: a
// relation cleared, or a link removed, by the deletion of the other record changes the record
// without a new version, and a write conditional on a read must not land on it unseen.
type Match struct {
	Version int64
	State   string
	// Or is the next ETag of an If-Match list (RFC 9110 §13.1.1): the precondition holds when
	// the record is at any of them.
	Or *Match
}

// holds reports whether rec, as stored, is at m or at one of the matches after it; a nil m
// always holds.
func (m *Match) holds(r *spec.Resource, rec *store.Record) bool {
	if m == nil {
		return true
	}
	state := StateTag(r, rec)
	for t := m; t != nil; t = t.Or {
		if rec.Version == t.Version && state == t.State {
			return true
		}
	}
	return false
}

// StateTag is what a stored record holds beyond its version that can change without one: the
// values of its visible to-one relations and to-many links, hashed (64-bit FNV-1a, in field
// order, in hexadecimal); "" when all of them are empty. A record's ETag carries it, and
// If-Match compares it (Match). Hidden fields are left out: a tag must not tell their values.
func StateTag(r *spec.Resource, rec *store.Record) string {
	h, set := uint64(14695981039346656037), false
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * 1099511628211
		}
		h = (h ^ 0xff) * 1099511628211 // a byte no UTF-8 text holds: "ab","c" and "a","bc" differ
	}
	for i, f := range r.Fields {
		if f.Relation == nil || f.Hidden || f.IsInverse() || i >= len(rec.Values) {
			continue
		}
		switch v := rec.Values[i].(type) {
		case string:
			if v != "" {
				add(f.Name)
				add(v)
				set = true
			}
		case []string:
			if len(v) > 0 {
				add(f.Name)
				for _, id := range v {
					add(id)
				}
				set = true
			}
		}
	}
	if !set {
		return ""
	}
	return strconv.FormatUint(h, 16)
}
