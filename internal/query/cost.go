package query

// Unindexed counts the predicates of c that no index can serve, given which fields lead an
// index: comparisons other than <> and IN lists on indexed fields, and N:M membership (Has),
// can use one; substring
// matches, <>, NOT IN and everything under a NOT cannot. It is the translator-side cost
// estimate that bounds how much scanning one list request may ask for.
func Unindexed(c Cond, indexed func(field string) bool) int {
	return unindexed(c, indexed, false)
}

func unindexed(c Cond, indexed func(string) bool, negated bool) int {
	switch x := c.(type) {
	case nil:
		return 0
	case Compare:
		if negated || x.Op == Ne || !indexed(x.Field) {
			return 1
		}
	case In:
		if negated || x.Not || !indexed(x.Field) {
			return 1
		}
	case Match:
		return 1
	case Has:
		// EXISTS on the link table's key: an index serves it, but not under a NOT.
		if negated {
			return 1
		}
	case Not:
		return unindexed(x.Cond, indexed, true)
	case And:
		return sumUnindexed(x, indexed, negated)
	case Or:
		return sumUnindexed(x, indexed, negated)
	}
	return 0
}

func sumUnindexed(cs []Cond, indexed func(string) bool, negated bool) int {
	n := 0
	for _, c := range cs {
		n += unindexed(c, indexed, negated)
	}
	return n
}
