package store

import (
	"bytes"
	"strings"
)

// updateFrom renders the UPDATE of rec and its arguments: every column when old is nil (the
// fixed statement), otherwise only the columns whose stored value differs from old's.
// Arguments: updated_at, the columns set, id [, version].
func (t *table) updateFrom(d dialect, rec, old *Record, ifVersion int64) (string, []any) {
	args := make([]any, 1, 3+len(t.cols))
	args[0] = d.encode(kTime, 0, rec.UpdatedAt)
	if old == nil {
		for _, c := range t.cols {
			args = append(args, d.encode(c.kind, c.scale, rec.Values[c.idx]))
		}
		args = append(args, rec.ID)
		if ifVersion > 0 {
			return t.updateIfSQL, append(args, ifVersion)
		}
		return t.updateSQL, args
	}
	var sb strings.Builder
	sb.Grow(len(t.updateSQL))
	sb.WriteString(t.updatePrefix)
	for _, c := range t.cols {
		v := d.encode(c.kind, c.scale, rec.Values[c.idx])
		if sameArg(v, d.encode(c.kind, c.scale, old.Values[c.idx])) {
			continue
		}
		args = append(args, v)
		sb.WriteString(", ")
		sb.WriteString(quote(c.name))
		sb.WriteString(" = ")
		sb.WriteString(d.placeholder(len(args)))
	}
	args = append(args, rec.ID)
	sb.WriteString(" WHERE " + quote("id") + " = ")
	sb.WriteString(d.placeholder(len(args)))
	sb.WriteString(t.andLive())
	if ifVersion > 0 {
		args = append(args, ifVersion)
		sb.WriteString(" AND " + quote(VersionColumn) + " = ")
		sb.WriteString(d.placeholder(len(args)))
	}
	return sb.String(), args
}

// sameArg reports whether two encoded statement arguments are certainly the same value; a
// type it does not know counts as different (the column is set).
func sameArg(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && x != nil && y != nil && bytes.Equal(x, y)
	}
	return false
}
