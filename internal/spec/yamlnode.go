package spec

import (
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// walker reads the YAML AST with positions, reporting every problem to the collector.
type walker struct {
	*collector
	env func(string) (string, bool)
}

type entry struct {
	key   string
	pos   Pos
	value ast.Node
}

func (w *walker) pos(n ast.Node) Pos {
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{File: w.file}
	}
	return Pos{File: w.file, Line: tk.Position.Line, Column: tk.Position.Column}
}

func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

// mapping returns the entries of a mapping node, checking keys against the allowed set.
// A nil allowed set accepts any key (names of resources and fields).
func (w *walker) mapping(n ast.Node, what string, allowed ...string) ([]entry, bool) {
	n = unwrap(n)
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	case *ast.NullNode:
		return nil, true
	default:
		w.add(w.pos(n), "%s must be a mapping", what)
		return nil, false
	}
	seen := map[string]bool{}
	out := make([]entry, 0, len(values))
	for _, mv := range values {
		key := strings.TrimSpace(mv.Key.GetToken().Value)
		p := w.pos(mv.Key)
		if seen[key] {
			w.add(p, "duplicate key %q in %s", key, what)
			continue
		}
		seen[key] = true
		if allowed != nil && !slices.Contains(allowed, key) {
			w.add(p, "unknown key %q in %s%s", key, what, suggest(key, allowed))
			continue
		}
		out = append(out, entry{key: key, pos: p, value: mv.Value})
	}
	return out, true
}

// scalar returns the interpolated text of a scalar node and whether it is null.
func (w *walker) scalar(n ast.Node, what string) (text string, null, ok bool) {
	n = unwrap(n)
	switch n.(type) {
	case *ast.NullNode:
		return "", true, true
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		w.add(w.pos(n), "%s must be a single value", what)
		return "", false, false
	}
	tk := n.GetToken()
	if tk == nil {
		return "", true, true
	}
	raw := tk.Value
	if lit, isBlock := n.(*ast.LiteralNode); isBlock && lit.Value != nil {
		raw = lit.Value.Value // a block scalar (| or >): its text, not the indicator token
	}
	text, err := interpolate(raw, w.env)
	if err != nil {
		w.add(w.pos(n), "%s: %v", what, err)
		return "", false, false
	}
	return text, false, true
}

func (w *walker) str(n ast.Node, what string) string {
	s, _, _ := w.scalar(n, what)
	return s
}

func (w *walker) boolean(n ast.Node, what string) bool {
	s, _, ok := w.scalar(n, what)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		w.add(w.pos(n), "%s must be true or false, not %q", what, s)
	}
	return b
}

func (w *walker) integer(n ast.Node, what string) (int64, bool) {
	s, _, ok := w.scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		w.add(w.pos(n), "%s must be a whole number, not %q", what, s)
		return 0, false
	}
	return v, true
}

func (w *walker) list(n ast.Node, what string) []ast.Node {
	n = unwrap(n)
	switch s := n.(type) {
	case *ast.SequenceNode:
		return s.Values
	case *ast.NullNode:
		return nil
	}
	w.add(w.pos(n), "%s must be a list", what)
	return nil
}

func (w *walker) strings(n ast.Node, what string) []string {
	return w.stringsAt(n, what, nil, "")
}

// stringsAt is strings, noting in keyPos (when not nil) where the item that becomes out[i]
// is written, as key.i.
func (w *walker) stringsAt(n ast.Node, what string, keyPos map[string]Pos, key string) []string {
	var out []string
	for _, item := range w.list(n, what) {
		if s, null, ok := w.scalar(item, what+" item"); ok && !null {
			if keyPos != nil {
				keyPos[keyIndex(key, len(out))] = w.pos(item)
			}
			out = append(out, s)
		}
	}
	return out
}

// keyIndex names item i of a list key as stringsAt notes it.
func keyIndex(key string, i int) string { return key + "." + strconv.Itoa(i) }

// notePos records in keyPos where e's value is written, under prefix+key, and where its key
// is, under prefix+key+":", for errors about the value and about the key being given.
func (w *walker) notePos(keyPos map[string]Pos, prefix string, e entry) {
	keyPos[prefix+e.key] = w.pos(e.value)
	keyPos[prefix+e.key+":"] = e.pos
}

// keyAt is the position keyPos holds for the first of keys it has, or fallback (the block's
// or the entry's) when none of them was given.
func keyAt(keyPos map[string]Pos, fallback Pos, keys ...string) Pos {
	for _, k := range keys {
		if p, ok := keyPos[k]; ok {
			return p
		}
	}
	return fallback
}

// laterKey is where the second written of two keys given together is (keys noted by
// notePos); an error that only one of them may be given points there.
func laterKey(keyPos map[string]Pos, a, b string) Pos {
	pa, pb := keyPos[a+":"], keyPos[b+":"]
	if pa.Line > pb.Line || (pa.Line == pb.Line && pa.Column > pb.Column) {
		return pa
	}
	return pb
}

// notARole says role is not one of the spec's roles, naming the one it looks like a typo of.
// A spec declaring no roles says so rather than listing none.
func notARole(s *Spec, role string) string {
	if len(s.Roles) == 0 {
		return strconv.Quote(role) + " is not one of the roles: the spec declares none (add roles: [...] at the top)"
	}
	return strconv.Quote(role) + " is not one of the roles" + suggest(role, s.Roles)
}

// NotARole says role is not one of s's roles, naming the one it looks like a typo of: "\"admn\"
// is not one of the roles (did you mean \"admin\"?)".
func (s *Spec) NotARole(role string) string { return notARole(s, role) }

// suggest names the closest allowed key when the given one looks like a typo, or lists the
// allowed ones (nothing when there are none).
func suggest(key string, allowed []string) string {
	if hint := didYouMean(key, allowed); hint != "" || len(allowed) == 0 {
		return hint
	}
	return " (allowed: " + strings.Join(allowed, ", ") + ")"
}

// didYouMean names the closest of names when key looks like a typo of it, or is "".
func didYouMean(key string, names []string) string {
	best, bestDist := "", 3
	for _, a := range names {
		if d := distance(key, a); d < bestDist {
			best, bestDist = a, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

// DidYouMean is didYouMean for other packages: " (did you mean \"candidate\"?)" when key
// looks like a typo of one of names, else "".
func DidYouMean(key string, names []string) string { return didYouMean(key, names) }

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
