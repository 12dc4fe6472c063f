package expr

import "github.com/kiln-dev/kiln/internal/query"

// Simplify folds constant parts of a condition: And{} is true and Or{} is false. The result
// is And{} when the condition always holds and Or{} when it never does.
func Simplify(c query.Cond) query.Cond {
	switch c := c.(type) {
	case query.And:
		out := fold(c, isFalse, isTrue)
		if out == nil {
			return query.Or{}
		}
		return joinFolded(out, func(x []query.Cond) query.Cond { return query.And(x) })
	case query.Or:
		out := fold(c, isTrue, isFalse)
		if out == nil {
			return query.And{}
		}
		return joinFolded(out, func(x []query.Cond) query.Cond { return query.Or(x) })
	case query.Not:
		inner := Simplify(c.Cond)
		switch {
		case isTrue(inner):
			return query.Or{}
		case isFalse(inner):
			return query.And{}
		}
		return query.Not{Cond: inner}
	}
	return c
}

func isTrue(c query.Cond) bool {
	a, ok := c.(query.And)
	return ok && len(a) == 0
}

func isFalse(c query.Cond) bool {
	o, ok := c.(query.Or)
	return ok && len(o) == 0
}

// IsTrue reports whether a simplified condition always holds.
func IsTrue(c query.Cond) bool { return isTrue(c) }

// IsFalse reports whether a simplified condition never holds.
func IsFalse(c query.Cond) bool { return isFalse(c) }

// fold simplifies the parts of an And or Or: it returns nil when a part absorbs the whole
// (false in And, true in Or) and drops parts that change nothing.
func fold(parts []query.Cond, absorbs, neutral func(query.Cond) bool) []query.Cond {
	out := []query.Cond{}
	for _, x := range parts {
		x = Simplify(x)
		if absorbs(x) {
			return nil
		}
		if !neutral(x) {
			out = append(out, x)
		}
	}
	return out
}

func joinFolded(parts []query.Cond, join func([]query.Cond) query.Cond) query.Cond {
	if len(parts) == 1 {
		return parts[0]
	}
	return join(parts)
}
