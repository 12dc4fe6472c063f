// Package query is Kiln's dialect-neutral query model: conditions, sorts and pages over a
// resource's fields. Transports and the CEL translator build it; each store dialect renders it
// to SQL with placeholders. Field names here are spec names, never request text.
package query

import "slices"

// Op is a comparison operator.
type Op string

// Comparison operators.
const (
	Eq Op = "="
	Ne Op = "<>"
	Lt Op = "<"
	Le Op = "<="
	Gt Op = ">"
	Ge Op = ">="
)

// Negate returns the operator that holds exactly when op does not (for non-null values).
func (op Op) Negate() Op {
	return map[Op]Op{Eq: Ne, Ne: Eq, Lt: Ge, Le: Gt, Gt: Le, Ge: Lt}[op]
}

// Flip returns the operator with its operands swapped (10 < x is x > 10).
func (op Op) Flip() Op {
	return map[Op]Op{Eq: Eq, Ne: Ne, Lt: Gt, Le: Ge, Gt: Lt, Ge: Le}[op]
}

// Cond is a condition tree node.
type Cond interface{ isCond() }

// Compare is Field Op Value. A nil Value with Eq or Ne means IS NULL / IS NOT NULL.
// Values are typed for the field: string, int64, float64, bool, value.Decimal, time.Time.
type Compare struct {
	Field string
	Op    Op
	Value any
}

// In is Field IN (Values...), or NOT IN when Not.
type In struct {
	Field  string
	Values []any
	Not    bool
}

// MatchKind says where a Match looks for its text.
type MatchKind int

// Match kinds.
const (
	Prefix MatchKind = iota
	Suffix
	Contains
)

// Match is a case-sensitive substring test on a text field.
type Match struct {
	Field string
	Kind  MatchKind
	Text  string
}

// Has holds when the N:M relation Field (a to-many field or the inverse of one) links the
// record to the record with id ID. Stores render it as EXISTS on the link table.
type Has struct {
	Field string
	ID    string
}

// Rel holds when the record that the to-one relation Field points at exists (is live) and
// meets Cond, a condition over that record's fields: access rules that follow a relation
// (record.loan.member == auth.id). Stores render it as a subquery on the related table; Eval
// cannot decide it in memory, so writers replace it first (ResolveStored).
type Rel struct {
	Field string
	Cond  Cond
}

// Exists holds when a live record of Resource has Key equal to this record's Field and meets
// Cond, a condition over that record's fields: access rules that ask for another record
// (exists('memberships', 'org == record.org && user == auth.id')). Stores render it as an
// uncorrelated IN subquery on Resource; like Rel, Eval cannot decide it and writers replace
// it first (ResolveStored).
type Exists struct {
	Field    string
	Resource string
	Key      string
	Cond     Cond
}

// And holds when every condition holds; an empty And is true.
type And []Cond

// Or holds when any condition holds; an empty Or is false.
type Or []Cond

// Not negates its condition.
type Not struct{ Cond Cond }

func (Compare) isCond() {}
func (In) isCond()      {}
func (Match) isCond()   {}
func (Has) isCond()     {}
func (Rel) isCond()     {}
func (Exists) isCond()  {}
func (And) isCond()     {}
func (Or) isCond()      {}
func (Not) isCond()     {}

// Sort orders by one field.
type Sort struct {
	Field string
	Desc  bool
}

// List is a list query over one resource.
type List struct {
	Where  Cond
	Sort   []Sort // the store appends id as the final tiebreaker
	Limit  int
	After  []any // keyset: the sort values then the id of the last row seen
	Offset int   // page mode
	Count  bool
	// Deleted lists the soft-deleted records of a soft-delete resource instead of the live ones.
	Deleted bool
}

// AndOf joins conditions, dropping nils.
func AndOf(conds ...Cond) Cond {
	var out And
	for _, c := range conds {
		if c != nil {
			out = append(out, c)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

// ResolveStored returns c with its outermost parts that read other rows replaced by what
// decide says about each: true as And{}, false as Or{}. Those parts are every Rel and Exists
// (their Cond stays as it is) and each Has that inverse says is kept on the other side (an
// N:M inverse, whose links a record does not carry).
func ResolveStored(c Cond, decide func(Cond) (bool, error), inverse func(Has) bool) (Cond, error) {
	switch x := c.(type) {
	case Rel, Exists:
		return decided(decide(x))
	case Has:
		if inverse(x) {
			return decided(decide(x))
		}
	case And:
		return resolveAll(x, decide, inverse, func(out []Cond) Cond { return And(out) })
	case Or:
		return resolveAll(x, decide, inverse, func(out []Cond) Cond { return Or(out) })
	case Not:
		inner, err := ResolveStored(x.Cond, decide, inverse)
		return Not{Cond: inner}, err
	}
	return c, nil
}

func decided(ok bool, err error) (Cond, error) {
	if err != nil || ok {
		return And{}, err
	}
	return Or{}, nil
}

func resolveAll(cs []Cond, decide func(Cond) (bool, error), inverse func(Has) bool, join func([]Cond) Cond) (Cond, error) {
	out := make([]Cond, len(cs))
	for i, x := range cs {
		var err error
		if out[i], err = ResolveStored(x, decide, inverse); err != nil {
			return nil, err
		}
	}
	return join(out), nil
}

// ReadsStored reports whether ResolveStored has anything to decide in c.
func ReadsStored(c Cond, inverse func(Has) bool) bool {
	switch x := c.(type) {
	case Rel, Exists:
		return true
	case Has:
		return inverse(x)
	case And:
		return slices.ContainsFunc(x, func(c Cond) bool { return ReadsStored(c, inverse) })
	case Or:
		return slices.ContainsFunc(x, func(c Cond) bool { return ReadsStored(c, inverse) })
	case Not:
		return ReadsStored(x.Cond, inverse)
	}
	return false
}

// HasRel reports whether c reads another record anywhere (Rel or Exists).
func HasRel(c Cond) bool {
	switch x := c.(type) {
	case Rel, Exists:
		return true
	case And:
		return slices.ContainsFunc(x, HasRel)
	case Or:
		return slices.ContainsFunc(x, HasRel)
	case Not:
		return HasRel(x.Cond)
	}
	return false
}
