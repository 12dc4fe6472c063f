package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"os"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
)

// Template is a mail template file: Go templates defining "subject", "text" and "html"
// (each optional, but text or html is needed). Subject and text are rendered as plain text;
// html with contextual escaping, so record values cannot inject markup.
type Template struct {
	Path string
	text *texttemplate.Template
	html *htmltemplate.Template
}

// LoadTemplate reads and parses the file at path.
func LoadTemplate(path string) (*Template, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTemplate(path, string(src))
}

// ParseTemplate parses src, a template named name (a path, for errors).
func ParseTemplate(name, src string) (*Template, error) {
	t := &Template{Path: name}
	var err error
	if t.text, err = texttemplate.New(name).Option("missingkey=zero").Funcs(funcs).Parse(src); err != nil {
		return nil, err
	}
	if t.html, err = htmltemplate.New(name).Option("missingkey=zero").Funcs(funcs).Parse(src); err != nil {
		return nil, err
	}
	if t.text.Lookup("text") == nil && t.text.Lookup("html") == nil {
		return nil, errors.New(`defines neither {{define "text"}} nor {{define "html"}}`)
	}
	for _, tt := range t.text.Templates() {
		if tt.Tree != nil {
			blankNils(tt.Tree, tt.Tree.Root)
		}
	}
	return t, nil
}

// blankNils makes each action of a text template that writes a value write nothing for nil — a
// null field, a record that is not there (.old on create) — as the html part does, where Go's
// text/template writes "<no value>": it ends the action's pipeline with the blank function.
func blankNils(tree *parse.Tree, n parse.Node) {
	switch x := n.(type) {
	case *parse.ListNode:
		for _, c := range x.Nodes {
			blankNils(tree, c)
		}
	case *parse.ActionNode:
		if len(x.Pipe.Decl) == 0 {
			id := parse.NewIdentifier(blankFunc).SetTree(tree).SetPos(x.Pos)
			x.Pipe.Cmds = append(x.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: x.Pos, Args: []parse.Node{id}})
		}
	case *parse.IfNode:
		blankBranch(tree, &x.BranchNode)
	case *parse.RangeNode:
		blankBranch(tree, &x.BranchNode)
	case *parse.WithNode:
		blankBranch(tree, &x.BranchNode)
	}
}

func blankBranch(tree *parse.Tree, b *parse.BranchNode) {
	blankNils(tree, b.List)
	if b.ElseList != nil {
		blankNils(tree, b.ElseList)
	}
}

// HasSubject reports whether the template defines the subject.
func (t *Template) HasSubject() bool { return t.text.Lookup("subject") != nil }

// Render fills m's subject (when the template defines one), text and html from data.
func (t *Template) Render(data any, m *Message) error {
	if t.HasSubject() {
		s, err := t.runText("subject", data)
		if err != nil {
			return err
		}
		m.Subject = strings.Join(strings.Fields(s), " ") // a subject is one line
	}
	if t.text.Lookup("text") != nil {
		s, err := t.runText("text", data)
		if err != nil {
			return err
		}
		m.Text = strings.TrimSpace(s) + "\n"
	}
	if t.html.Lookup("html") != nil {
		var b bytes.Buffer
		if err := t.html.ExecuteTemplate(&b, "html", data); err != nil {
			return fmt.Errorf("template %s: %w", t.Path, err)
		}
		m.HTML = b.String()
	}
	return nil
}

func (t *Template) runText(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := t.text.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("template %s: %w", t.Path, err)
	}
	return b.String(), nil
}
