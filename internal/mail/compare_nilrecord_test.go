package mail

import "testing"

// renderMail (internal/service/events.go) gives .old on create (and .new on delete) as a nil
// map[string]any: Go's own eq found it equal to nil, so {{if eq .old nil}} told a create from
// an update; Kiln's eq must too.
func TestEqFindsAnAbsentRecordNil(t *testing.T) {
	var absent map[string]any // what renderMail's decode returns for an event without a record
	data := map[string]any{"new": map[string]any{"name": "Bob"}, "old": absent}
	tm, err := ParseTemplate("t.tmpl", `{{define "text"}}{{if eq .old nil}}created{{else}}updated{{end}} {{if ne .old nil}}has-old{{end}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := tm.Render(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Text != "created\n" && m.Text != "created \n" {
		t.Fatalf("text = %q, want %q (Go's eq: a nil map equals nil)", m.Text, "created")
	}
}
