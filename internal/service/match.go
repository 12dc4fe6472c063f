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
}

// holds reports whether rec, as stored, is at m; a nil m always holds.
func (m *Match) holds(r *spec.Resource, rec *store.Record) bool {
	return m == nil || (rec.Version == m.Version && StateTag(r, rec) == m.State)
}

// version is the version m names; 0 (none) for a nil m.
func (m *Match) version() int64 {
	if m == nil {
		return 0
	}
	return m.Version
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
