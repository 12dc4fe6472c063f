package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// membershipCases list the seed's products tagged "sale" and the tags of its Trail Runner,
// each checked against the filter evaluated in memory over every stored record.
const membershipCases = `endpoint: GET /api/products?tags=0192f0a0-0000-7000-8000-000000000201&limit=2

test_cases:
  1_by_shorthand:
    request:
      method: GET
    expected:
      status: 200
      pages: {each_row_once: true, match_in_memory: true}
  2_by_filter:
    request:
      path: /api/products?filter=%220192f0a0-0000-7000-8000-000000000201%22%20in%20tags&limit=2&count=true
    expected:
      status: 200
      response_contains:
        - total: 4
      pages: {each_row_once: true, match_in_memory: true}
  3_through_the_inverse:
    request:
      path: /api/tags?products=0192f0a0-0000-7000-8000-000000000300&expand=products&limit=1&count=true
    expected:
      status: 200
      response_contains:
        - total: 2
      pages: {each_row_once: true, match_in_memory: true}
`

func TestKilnTestChecksMembershipFilters(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	dir := t.TempDir()
	src, err := os.ReadFile("../../examples/shop/kiln.yaml")
	require.NoError(t, err)
	withInverse := strings.Replace(string(src), "      name: {type: string, required: true, unique: true, min_length: 1, max_length: 50}\n",
		"      name: {type: string, required: true, unique: true, min_length: 1, max_length: 50}\n"+
			"      products: {type: relation, to: products, inverse: tags}\n", 1)
	require.NotEqual(t, string(src), withInverse)
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(withInverse), 0o644))
	copyShopMails(t, filepath.Dir(specPath))
	seed, err := os.ReadFile("../../examples/shop/seed.json")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "seed.json"), seed, 0o644))
	tests := filepath.Join(dir, "membership.test.yaml")
	require.NoError(t, os.WriteFile(tests, []byte(membershipCases), 0o644))

	out, err := run(t, "test", "--spec", specPath, tests)
	require.NoError(t, err, out)
	require.Equal(t, "3 passed, 0 failed", lastLine(out))
}
