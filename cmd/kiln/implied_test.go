package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// widgetCases change name only so that the database check can find the record.
const widgetCases = `endpoint: POST /api/products

test_cases:
  1_create:
    request:
      method: POST
      headers:
        Authorization: Bearer {valid_token}
        Content-Type: application/json
      body:
        name: "Widget"
        price: 9.99
    expected:
      status: 201
  2_price_as_text:
    request:
      body:
        name: "Bad Widget"
        price: "cheap"
    expected:
      status: 400
      response_contains:
        - error: validation_failed
      database_check:
        - Product with name "Bad Widget" does not exist
`

func TestKilnTestLetsACaseNameTheRecordItLooksFor(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	path := filepath.Join(t.TempDir(), "widget.test.yaml")
	require.NoError(t, os.WriteFile(path, []byte(widgetCases), 0o644))
	out, err := run(t, "test", "--spec", "../../examples/shop/kiln.yaml", path)
	require.NoError(t, err, out)
	require.Equal(t, "2 passed, 0 failed", lastLine(out))

	// The same change without a check that looks for it is a violation nobody caught.
	unchecked := strings.Replace(widgetCases, `        - Product with name "Bad Widget" does not exist`, `        - Product with name "Widget" exists`, 1)
	require.NoError(t, os.WriteFile(path, []byte(unchecked), 0o644))
	out, err = run(t, "test", "--spec", "../../examples/shop/kiln.yaml", path)
	require.ErrorIs(t, err, errTestsFailed)
	require.Contains(t, out, "name was changed to Bad Widget and should fail validation")
}

// A failing case says why in the words of the file: a case whose expectations read its own
// response (a 409 has no id) reports the status first, and a structured database_check prints
// as JSON, not as a Go map (found by a helper's booking trial).
func TestKilnTestFailuresReadAsTheFileWrote(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	path := filepath.Join(t.TempDir(), "failing.test.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`endpoint: POST /api/categories
as: staff
defaults:
  request:
    headers:
      Authorization: Bearer {valid_token}
      Content-Type: application/json
test_cases:
  taken:
    request:
      body: {name: Taken, slug: taken-slug}
    expected:
      status: 201
  again:
    request:
      body: {name: Taken, slug: taken-slug}
    expected:
      status: 201
      response_contains:
        - id: "{again.response.id}"
  counted:
    request:
      body: {name: Other, slug: other-slug}
    expected:
      status: 201
      database_check:
        - {resource: categories, where: {slug: other-slug}, count: 2}
`), 0o644))
	out, err := run(t, "test", "--spec", "../../examples/shop/kiln.yaml", path)
	require.ErrorIs(t, err, errTestsFailed)
	require.Contains(t, out, "status: expected 201, got 409", out)
	require.Contains(t, out, "placeholder {again.response.id}: the response of again has no id", out)
	require.Contains(t, out, `{"count":2,"resource":"categories","where":{"slug":"other-slug"}}: expected 2 categories with {"slug":"other-slug"}, found 1`, out)
	require.NotContains(t, out, "map[", out)
}
