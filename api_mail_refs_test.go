package kiln_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// A trigger's mail template that reads a field the record does not have — a typo, a hidden
// field, a field of a value — is a spec error at its template: key, naming the place in the
// template file; it wrote "<no value>" into every mail. The shop's own template passes.
func TestMailTemplateFieldsAreCheckedWhenTheSpecLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "mails"), 0o755))
	tmpl := "{{define \"subject\"}}Order {{.new.nmae}} {{.event.operaton}}{{end}}\n" +
		"{{define \"text\"}}{{.new.total.cents}} {{.old.secret}} {{.evnt}}\n" +
		"{{with .new}}{{.anything}} {{$.record.titel}}{{end}} {{.new.meta.deep}} {{.to}} {{.new.id}}{{end}}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mails", "m.tmpl"), []byte(tmpl), 0o644))
	src := `resources:
  notes:
    fields:
      name: string
      title: string
      total: decimal
      meta: json
      secret: {type: string, hidden: true}
    triggers:
      - name: told
        on: [create, update]
        mail: {to: "'a@example.com'", template: mails/m.tmpl}
`
	path, err := loadSpecIn(t, dir, src)
	require.Error(t, err)
	msg := err.Error()
	at := path + ":12:49: trigger told: mail.template mails/m.tmpl:"
	for _, want := range []string{
		`1:29: {{.new.nmae}}: notes has no field "nmae" (did you mean "name"?)`,
		`1:43: {{.event.operaton}}: .event has resource, operation, action, record_id, not "operaton" (did you mean "operation"?)`,
		`2:20: {{.new.total.cents}}: notes.total is a single value: it has no field "cents"`,
		`2:41: {{.old.secret}}: notes.secret is hidden: a mail sees the record as the API shows it`,
		`2:57: {{.evnt}}: a trigger's mail template sees .new, .old, .record, .event and .to, not .evnt (did you mean "event"?)`,
		`3:30: {{.record.titel}}: notes has no field "titel" (did you mean "title"?)`,
	} {
		require.Contains(t, msg, at+want)
	}
	require.Equal(t, 6, strings.Count(msg, at), msg)
	require.NotContains(t, msg, "anything", "what a with reads from its own dot is not checked")
	require.NotContains(t, msg, "meta", "a json field has fields of its own")

	_, err = kiln.LoadSpec(filepath.Join("examples", "shop", "kiln.yaml"), noEnv)
	require.NoError(t, err)
}
