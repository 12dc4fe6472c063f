package logic

import (
	"slices"
	"strings"
)

// orderComputed puts computed fields in an order they can be computed in: each one after
// the computed fields it reads, the others in field order. A field reading itself reads the
// value stored before the write (none on create), so that is no dependency. Computed fields
// that read each other cannot be computed at all (on create the first sees no value of the
// next, every time): each such cycle is a spec error naming it, at its first field.
func (c *compiler) orderComputed(set []*assign) []*assign {
	byName := make(map[string]*assign, len(set))
	for _, a := range set {
		byName[a.field.Name] = a
	}
	out := make([]*assign, 0, len(set))
	done := map[*assign]bool{}
	var path []*assign
	var visit func(a *assign)
	visit = func(a *assign) {
		if done[a] {
			return
		}
		if i := slices.Index(path, a); i >= 0 {
			c.computeCycle(set, path[i:])
			return
		}
		path = append(path, a)
		for _, dep := range a.prog.deps {
			if b := byName[dep]; b != nil && b != a {
				visit(b)
			}
		}
		path = path[:len(path)-1]
		done[a] = true
		out = append(out, a)
	}
	for _, a := range set {
		visit(a)
	}
	return out
}

// computeCycle reports computed fields reading each other, from the first of them in field
// order: "computed fields c → d → c read each other".
func (c *compiler) computeCycle(set, cycle []*assign) {
	first := 0
	for i, a := range cycle {
		if slices.Index(set, a) < slices.Index(set, cycle[first]) {
			first = i
		}
	}
	names := make([]string, 0, len(cycle)+1)
	for i := range cycle {
		names = append(names, cycle[(first+i)%len(cycle)].field.Name)
	}
	names = append(names, names[0])
	f := cycle[first].field
	c.fail(f.Pos, "computed fields %s read each other: none of them can be computed first", strings.Join(names, " → "))
}
