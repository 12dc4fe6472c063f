package spec

// Business logic declared next to the data (docs/logic.md). The spec keeps the CEL text and
// positions; internal/logic compiles and type-checks it when the spec loads.

import "strings"

// Operation is a write a rule or effect applies to.
type Operation string

// Operations.
const (
	OpCreate Operation = "create"
	OpUpdate Operation = "update"
	OpDelete Operation = "delete"
)

// Expr is a CEL expression with its position in the spec.
type Expr struct {
	Pos  Pos
	Text string
}

// Set reports whether the expression was given.
func (e Expr) Set() bool { return e.Text != "" }

// StringLiteral is the text of an expression that is only a plain string literal ('x' or
// "x", no escapes).
func (e Expr) StringLiteral() (string, bool) {
	t := strings.TrimSpace(e.Text)
	if len(t) < 2 || (t[0] != '\'' && t[0] != '"') || t[len(t)-1] != t[0] || strings.ContainsAny(t[1:len(t)-1], `'"\`) {
		return "", false
	}
	return t[1 : len(t)-1], true
}

// Assignment sets one field from a CEL expression.
type Assignment struct {
	Pos   Pos
	Field string
	Value Expr
}

// LogicRule is a condition every write of its operations must meet (rules: on a resource).
type LogicRule struct {
	Pos Pos
	// NamePos is where the name is written (Pos when it is not).
	NamePos Pos
	Name    string
	Check   Expr
	Message string
	// Fields are the fields the rule blames in the error; none means the record as a whole.
	Fields []string
	// Code is the error code when the rule fails: a field error code in a 400, or with
	// Conflict the top-level code of a 409 (the rule is about stored state, not the input).
	Code     string
	Conflict bool
	On       []Operation
	// ViolatedBy are field values that, sent in an otherwise valid body, break the rule: the
	// derived suite sends them and expects the rule's answer.
	ViolatedBy []Sample
}

// Sample is one field's value in a test body, as YAML scalar text.
type Sample struct {
	Field, Value string
	// Pos is where the field is named, ValuePos where its value is written.
	Pos, ValuePos Pos
}

// Effect changes another record in the same transaction when a write happens: once, or once
// per child through Each (an inverse relation, the child named item).
type Effect struct {
	Pos Pos
	// NamePos is where the name is written (Pos when it is not).
	NamePos Pos
	Name    string
	On      []Operation
	When    Expr
	Each    string // an inverse relation field of the resource, or ""
	Update  string // the target resource
	ID      Expr   // the target record's id
	Set     []Assignment
}

// Transition is one allowed change of a state field (an enum with transitions).
type Transition struct {
	Pos Pos
	// KeyPos holds where each value is written: from.<i>, to, roles.<i>.
	KeyPos map[string]Pos
	From   []string
	To     string
	Roles  []string // empty: any role that may write the record
	When   Expr
}

func (t *Transition) at(key string) Pos { return keyAt(t.KeyPos, t.Pos, key) }

// Rollup keeps a field equal to an aggregate of children through an inverse relation.
type Rollup struct {
	Pos   Pos
	Func  string // sum, count, min, max
	Of    string // the inverse relation field
	Field string // the children's field (not for count)
	// Where, when set, is a filter (the list filter language, over the children's fields and
	// constants) that a child must meet to count: {sum: amount, of: invoices, where: "status != 'paid'"}.
	Where Expr
}

// RecordAction is a named operation on one record (POST {base}/{resource}/{id}/{name}): its own
// access rule and input, and steps that run in one transaction through the write pipeline.
type RecordAction struct {
	Pos    Pos
	Name   string
	Access *Rule
	Input  []*Field
	Steps  []*Step
	// Go marks an action implemented by a Go function registered through the kiln package.
	Go     bool
	byName map[string]*Field
}

// InputResource describes the action's input as a resource of its own, for validation.
func (a *RecordAction) InputResource(resource string) *Resource {
	return &Resource{Pos: a.Pos, Name: resource + "." + a.Name + ".input", Fields: a.Input, byName: a.byName}
}

// InputField returns the named input field of the action, or nil.
func (a *RecordAction) InputField(name string) *Field { return a.byName[name] }

// RequiredInput names the first input field the action cannot run without (required, with no
// default), or "" when it runs on no input: schedules, triggers and incoming webhooks give none.
// default: auth.id counts as none: they run on Kiln's own authority, which is no account.
func (a *RecordAction) RequiredInput() string {
	for _, f := range a.Input {
		if f.Required && (f.Default == nil || f.Default == "auth.id") {
			return f.Name
		}
	}
	return ""
}

// Step is one step of an action; exactly one of its kinds is set.
type Step struct {
	Pos Pos
	// Set changes the action's record (through its state machine and rules).
	Set []Assignment
	// Create makes a record of another resource with Values.
	Create string
	Values []Assignment
	// Update changes the record ID of another resource with Values; Delete removes it.
	Update string
	Delete string
	ID     Expr
	// Assert fails the action with Code (409) and Message unless Check holds.
	Assert  Expr
	Code    string
	Message string
	// When, if set, runs the step only when it holds (e.g. a fine only for a late return).
	When Expr
}

// Applies reports whether ops (empty: create and update) include op.
func Applies(ops []Operation, op Operation) bool {
	if len(ops) == 0 {
		return op == OpCreate || op == OpUpdate
	}
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}
