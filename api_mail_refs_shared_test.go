package kiln_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// One template shared by the triggers of two resources, each branch reading its own
// resource's field under a test of .event.resource: it rendered right before the load-time
// check of its paths, and must still load.
func TestMailTemplateSharedByTwoResourcesLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "mails"), 0o755))
	tmpl := `{{define "subject"}}New {{.event.resource}}{{end}}
{{define "text"}}{{if eq .event.resource "orders"}}Total {{.new.total}}{{else}}Amount {{.new.amount}}{{end}}{{end}}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mails", "created.tmpl"), []byte(tmpl), 0o644))
	src := `resources:
  orders:
    fields:
      total: decimal
    triggers:
      - {name: told, on: [create], mail: {to: "'a@example.com'", template: mails/created.tmpl}}
  refunds:
    fields:
      amount: decimal
    triggers:
      - {name: told, on: [create], mail: {to: "'a@example.com'", template: mails/created.tmpl}}
`
	_, err := loadSpecIn(t, dir, src)
	require.NoError(t, err)
}
