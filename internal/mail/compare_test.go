package mail

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// A record's numbers reach a template as json.Number: Go's own gt refused to compare one with
// an int ("incompatible types for comparison"), and eq compared "25.0" and "25" as text. A
// failing template fails the write that fired it, so {{if gt .new.total 100}} made every such
// write a 409. Kiln's comparisons compare numbers exactly by value; nil has no order (false).
func TestTemplateComparesNumbersByValue(t *testing.T) {
	t.Parallel()
	src := `{{define "text"}}{{if gt .new.total 100}}free{{else}}paid{{end}} {{if eq .new.total 250}}=250{{end}}` +
		` {{if lt .new.total 250.5}}<250.5{{end}} {{if ge .new.n .new.total}}n>=t{{else}}n<t{{end}}` +
		` {{if eq .new.status "paid" "shipped"}}done{{end}} {{if ne .new.status "open"}}!open{{end}}` +
		` {{if gt .new.discount 0}}discount{{else}}none{{end}} {{if eq .new.discount nil}}null{{end}}` +
		` {{if gt .old.total 0}}had{{else}}new{{end}}{{end}}` +
		`{{define "html"}}{{if le .new.total 250}}<b>{{.new.total}}</b>{{end}}{{end}}`
	tm, err := ParseTemplate("m.tmpl", src)
	require.NoError(t, err)
	data := map[string]any{"new": map[string]any{"total": json.Number("250.00"), "n": int64(3), "status": "paid", "discount": nil}, "old": map[string]any(nil)}
	var m Message
	require.NoError(t, tm.Render(data, &m))
	require.Equal(t, "free =250 <250.5 n<t done !open none null new\n", m.Text)
	require.Equal(t, "<b>250.00</b>", m.HTML)

	for _, bad := range []string{`{{if gt .new.status 1}}x{{end}}`, `{{if lt .new.flag true}}x{{end}}`} {
		tm, err := ParseTemplate("m.tmpl", `{{define "text"}}`+bad+`{{end}}`)
		require.NoError(t, err)
		err = tm.Render(map[string]any{"new": map[string]any{"status": "paid", "flag": false}}, &Message{})
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), "m.tmpl")
	}
}

// A null field, or a field of a record that is not there (.old on create), writes nothing in
// the text part and the subject, as in the html part; Go's text/template wrote "<no value>".
func TestTemplateWritesNothingForNull(t *testing.T) {
	t.Parallel()
	tm, err := ParseTemplate("m.tmpl", `{{define "subject"}}Order {{.new.ref}}{{.new.note}}{{end}}`+
		`{{define "text"}}[{{.new.note}}] [{{.old.total}}] [{{.new.note | printf "%v"}}] {{with .new}}[{{.note}}]{{end}} {{range .new.tags}}{{.}},{{end}}{{$x := .new.note}}[{{$x}}]{{end}}`+
		`{{define "html"}}<i>{{.new.note}}</i>{{end}}`)
	require.NoError(t, err)
	var m Message
	data := map[string]any{"new": map[string]any{"ref": "A1", "note": nil, "tags": []any{"a", nil}}, "old": map[string]any(nil)}
	require.NoError(t, tm.Render(data, &m))
	require.Equal(t, "Order A1", m.Subject)
	require.Equal(t, "[] [] [<nil>] [] a,,[]\n", m.Text)
	require.Equal(t, "<i></i>", m.HTML)
}
