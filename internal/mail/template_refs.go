package mail

import (
	"strconv"
	"strings"
	"text/template/parse"
)

// Ref is a path a template reads from the data it is given — {{.new.total}} is new, total —
// and where in the template file it is (Line and Col count from 1).
type Ref struct {
	Path      []string
	Line, Col int
}

// Refs lists the paths the subject, text and html parts read from their data: fields of the
// data itself (.new.total) and of $ anywhere ($.new.total inside a with or a range, where the
// dot is something else). What a with or a range reads from its own dot, and what other
// templates read, depend on what they are given and are not listed.
func (t *Template) Refs() []Ref {
	var out []Ref
	for _, name := range []string{"subject", "text", "html"} {
		if tt := t.text.Lookup(name); tt != nil && tt.Tree != nil {
			w := &refWalker{tree: tt.Tree, out: &out}
			w.node(tt.Tree.Root, true)
		}
	}
	return out
}

type refWalker struct {
	tree *parse.Tree
	out  *[]Ref
}

// node walks n; atRoot says the dot is the template's data.
func (w *refWalker) node(n parse.Node, atRoot bool) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			w.node(c, atRoot)
		}
	case *parse.ActionNode:
		w.pipe(x.Pipe, atRoot)
	case *parse.TemplateNode:
		w.pipe(x.Pipe, atRoot)
	case *parse.IfNode:
		w.pipe(x.Pipe, atRoot)
		w.node(x.List, atRoot)
		w.node(x.ElseList, atRoot)
	case *parse.RangeNode:
		w.pipe(x.Pipe, atRoot)
		w.node(x.List, false)
		w.node(x.ElseList, atRoot)
	case *parse.WithNode:
		w.pipe(x.Pipe, atRoot)
		w.node(x.List, false)
		w.node(x.ElseList, atRoot)
	}
}

func (w *refWalker) pipe(p *parse.PipeNode, atRoot bool) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			w.arg(a, atRoot)
		}
	}
}

func (w *refWalker) arg(a parse.Node, atRoot bool) {
	switch x := a.(type) {
	case *parse.FieldNode:
		if atRoot {
			w.add(x, x.Ident, back(x.Ident))
		}
	case *parse.VariableNode:
		if len(x.Ident) > 1 && x.Ident[0] == "$" {
			w.add(x, x.Ident[1:], back(x.Ident))
		}
	case *parse.PipeNode:
		w.pipe(x, atRoot)
	case *parse.ChainNode:
		w.arg(x.Node, atRoot)
	}
}

// back is how far before a node's position its text starts: the parser places a path of more
// than one name (.new.total, $.new) at its second name.
func back(ident []string) int {
	if len(ident) < 2 {
		return 0
	}
	if ident[0] == "$" {
		return 1
	}
	return len(ident[0]) + 1
}

// add lists path, read by n, whose text starts back bytes before n's position.
func (w *refWalker) add(n parse.Node, path []string, back int) {
	loc, _ := w.tree.ErrorContext(n)
	// loc is "name:line:col"; the name is a path, which may hold colons of its own
	parts := strings.Split(loc, ":")
	ref := Ref{Path: path}
	if k := len(parts); k >= 3 {
		ref.Line, _ = strconv.Atoi(parts[k-2])
		col, _ := strconv.Atoi(parts[k-1]) // bytes into the line, from 0
		ref.Col = col - back + 1
	}
	*w.out = append(*w.out, ref)
}
