package selftest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSentence(t *testing.T) {
	t.Parallel()
	c, err := ParseSentence(`Product with name "Test Product" exists`)
	require.NoError(t, err)
	require.Equal(t, "product", c.Resource)
	require.Equal(t, map[string]any{"name": "Test Product"}, c.Where)
	require.True(t, *c.Exists)

	c, err = ParseSentence(`Price stored as 29.99`)
	require.NoError(t, err)
	require.Equal(t, "price", c.Field)
	require.Equal(t, "29.99", c.Value)

	c, err = ParseSentence(`order item with unit price 5 does not exist`)
	require.NoError(t, err)
	require.Equal(t, "order_item", c.Resource)
	require.Equal(t, map[string]any{"unit_price": "5"}, c.Where)
	require.False(t, *c.Exists)

	c, err = ParseSentence(`3 products with active true`)
	require.NoError(t, err)
	require.Equal(t, 3, *c.Count)
	require.Equal(t, map[string]any{"active": true}, c.Where)

	for sentence, hint := range map[string]string{
		`the price looks right`:           "expected <Resource> with",
		`Product with name "x"`:           `expected "exists" or "does not exist"`,
		`Product with exists`:             "a field and a value",
		`Product with name "unterminated`: "not closed",
		``:                                "empty",
		`stored as 5`:                     "a field name",
		`"" with name "x" exists`:         "a resource name",
		`0""with 0""`:                     "a resource name",
		`Product with "" 5 exists`:        "a field name",
		`"price" stored as 5`:             "a field name",
	} {
		_, err := ParseSentence(sentence)
		require.ErrorContains(t, err, hint, sentence)
	}
}

func FuzzParseSentence(f *testing.F) {
	for _, s := range []string{`Product with name "Test Product" exists`, `Price stored as 29.99`, `3 products with active true`,
		`x with y "z\" does not exist`, `"`, `with with with exists`, `0 with a b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseSentence(s)
		if err != nil {
			return
		}
		if c.Field == "" && c.Resource == "" {
			t.Fatalf("accepted %q with neither a resource nor a field", s)
		}
		for k := range c.Where {
			if k == "" {
				t.Fatalf("accepted %q with an empty field name", s)
			}
		}
	})
}
