package example

import (
	"encoding/json"
	"math/rand/v2"
	"net/mail"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

func TestFromPatternMatches(t *testing.T) {
	t.Parallel()
	for _, p := range []string{`^[a-z0-9-]+$`, `^[A-Z]{3}-\d{4}$`, `^(foo|bar)_[0-9]+$`, `^x?y*z$`, `.+@.+`} {
		s := fromPattern(p)
		require.Regexp(t, regexp.MustCompile(p), s, p)
	}
}

func TestBodyRespectsConstraints(t *testing.T) {
	t.Parallel()
	s, err := spec.Load("../../examples/shop/kiln.yaml", spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	body := Body(s.Resource("order_items"), Vars{Unique: "42", Ref: func(r string) string { return "{{" + r + "_id}}" }})
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	require.JSONEq(t, `{"order":"{{orders_id}}","product":"{{products_id}}","quantity":1}`, string(raw), "unit_price is staff-only, line_total computed")
	products := Body(s.Resource("products"), Vars{Unique: "42", Ref: func(string) string { return "" }})
	require.Equal(t, number("100"), products["stock"], "the spec's example wins over a made-up value")
	cat := Body(s.Resource("categories"), Vars{Unique: "42", Ref: func(string) string { return "" }})
	require.Regexp(t, `^[a-z0-9-]+$`, cat["slug"])
	require.Equal(t, "a42", cat["slug"])
	var_ := Body(s.Resource("categories"), Vars{Unique: "{{run}}", Ref: func(string) string { return "" }})
	require.Equal(t, "a{{run}}", var_["slug"], "a placeholder that will hold digits")
}

func TestRandomMatchesThePattern(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	ml, xl := 3, 12
	for _, p := range []string{`^[A-Z]{3}-[0-9]{4}$`, `^(foo|bar)_[a-z]+$`, `^\d{2,5}$`, `^[^a-z]+$`} {
		f := &spec.Field{Name: "code", Type: spec.TypeString, Pattern: p, MinLength: &ml, MaxLength: &xl}
		seen := map[string]bool{}
		for range 20 {
			s := Random(f, r)
			require.Regexp(t, regexp.MustCompile(p), s)
			require.True(t, len(s) >= ml && len(s) <= xl, s)
			seen[s] = true
		}
		require.Greater(t, len(seen), 10, "values vary: %v", seen)
	}
}

func TestUniqueSurvivesShortMaxLength(t *testing.T) {
	t.Parallel()
	for _, n := range []int{12, 20} {
		f := &spec.Field{Name: "label", Type: spec.TypeString, Unique: true, MaxLength: &n}
		v := Value(f, Vars{Unique: "{unique}1"}).(string)
		require.Contains(t, v, "{unique}1")
		require.LessOrEqual(t, len(v)+2, n, "{unique} is sent as ten digits: %q", v)
	}
	short := 10
	f := &spec.Field{Name: "label", Type: spec.TypeString, Unique: true, MaxLength: &short}
	require.False(t, CarriesUnique(f, "{unique}1"), "eleven characters do not fit in ten")
	require.Len(t, Random(f, rand.New(rand.NewPCG(3, 4))), 10)
}

// A random email or URL is one: a required email of the account resource got "Example email
// 6971…", so kiln test could make none of its test accounts (a trial: 657 of 668 failed), and
// {random:users.email} sent no address.
func TestRandomEmailAndURLAreValid(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	email := &spec.Field{Name: "email", Type: spec.TypeEmail}
	link := &spec.Field{Name: "homepage", Type: spec.TypeURL}
	seen := map[string]bool{}
	for range 20 {
		e := Random(email, r)
		a, err := mail.ParseAddress(e)
		require.NoError(t, err, e)
		require.Equal(t, e, a.Address)
		seen[e] = true
		u, err := url.Parse(Random(link, r))
		require.NoError(t, err)
		require.Equal(t, "https", u.Scheme)
		require.NotEmpty(t, u.Host)
	}
	require.Len(t, seen, 20, "values vary")
}
