package kiln_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// textCase is one piece of unusable text sent to one kind of endpoint.
type textCase struct {
	name, method, path string
	body               string // raw bytes, sent as application/json when set
	anonymous          bool
	field, code        string // the field error expected in the 400 malformed_request
}

// bodyCases puts each unusable text into the JSON body of path: fields holds a valid body
// with a {v} placeholder for the text and a {k} placeholder for the duplicated key.
func bodyCases(target, method, path, valid, field string, anonymous bool) []textCase {
	texts := []struct{ kind, value, code string }{
		{"NUL", `"a\u0000b"`, "nul_character"},
		{"RawNUL", "\"a\x00b\"", "nul_character"},
		{"InvalidUTF8", "\"a\xffb\"", "invalid_utf8"},
		{"LoneSurrogate", `"a\ud800b"`, "lone_surrogate"},
	}
	var out []textCase
	for _, tx := range texts {
		out = append(out, textCase{name: target + tx.kind, method: method, path: path, anonymous: anonymous,
			body: strings.Replace(valid, `"{v}"`, tx.value, 1), field: field, code: tx.code})
	}
	dup := strings.Replace(valid, `"{v}"`, `"x"`, 1)
	dup = strings.Replace(dup, "{", `{"`+field+`":"y",`, 1)
	return append(out, textCase{name: target + "DuplicateKey", method: method, path: path, anonymous: anonymous, body: dup,
		field: field, code: "duplicate_key"})
}

// queryCases puts each unusable text into a filter or a shorthand parameter.
func queryCases() []textCase {
	return []textCase{
		{name: "FilterNULEscape", path: `/api/products?filter=` + urlEncode(`name == "a\u0000"`), field: "filter", code: "invalid_filter"},
		{name: "FilterNULInContains", path: `/api/products?filter=` + urlEncode(`name.contains("\x00")`), field: "filter", code: "invalid_filter"},
		{name: "FilterNULInList", path: `/api/products?filter=` + urlEncode(`name in ["a", "b\u0000"]`), field: "filter", code: "invalid_filter"},
		{name: "FilterRawNUL", path: `/api/products?filter=name%20%3D%3D%20%22a%00%22`, field: "filter", code: "nul_character"},
		{name: "FilterInvalidUTF8", path: `/api/products?filter=name%20%3D%3D%20%22%FF%22`, field: "filter", code: "invalid_utf8"},
		{name: "FilterLoneSurrogate", path: `/api/products?filter=name%20%3D%3D%20%22%ED%A0%80%22`, field: "filter", code: "invalid_utf8"},
		{name: "FilterSurrogateEscape", path: `/api/products?filter=` + urlEncode(`name == "\ud800"`), field: "filter", code: "invalid_filter"},
		{name: "FilterTwice", path: `/api/products?filter=active&filter=active`, field: "filter", code: "repeated"},
		{name: "ShorthandNUL", path: `/api/products?name=a%00`, field: "name", code: "nul_character"},
		{name: "ShorthandInvalidUTF8", path: `/api/products?name=%C3`, field: "name", code: "invalid_utf8"},
		{name: "ShorthandLoneSurrogate", path: `/api/products?name=%ED%B0%80`, field: "name", code: "invalid_utf8"},
		{name: "ShorthandTwice", path: `/api/products?name=a&name=b`, field: "name", code: "repeated"},
		{name: "ParameterNameNUL", path: `/api/products?na%00me=a`, field: "na\x00me", code: "nul_character"},
	}
}

func textCases() []textCase {
	var cases []textCase
	cases = append(cases, bodyCases("Create", "POST", "/api/products", `{"name":"{v}","price":1}`, "name", false)...)
	cases = append(cases, bodyCases("Patch", "PATCH", "/api/products/{id}", `{"name":"{v}"}`, "name", false)...)
	cases = append(cases, bodyCases("Login", "POST", "/api/auth/login", `{"email":"{v}","password":"some password"}`, "email", true)...)
	cases = append(cases, bodyCases("Signup", "POST", "/api/auth/signup", `{"email":"{v}","password":"a long password"}`, "email", true)...)
	cases = append(cases, bodyCases("Reset", "POST", "/api/auth/password/reset", `{"email":"{v}"}`, "email", true)...)
	cases = append(cases, bodyCases("KeyCreation", "POST", "/api/auth/keys", `{"name":"{v}","role":"staff","scopes":["*:read"]}`, "name", false)...)
	for _, q := range queryCases() {
		q.method = "GET"
		cases = append(cases, q)
	}
	return cases
}

// Text PostgreSQL cannot store (NUL), text that is not UTF-8, lone surrogates and duplicate
// keys get the same 400 on both dialects wherever text enters, and nothing is stored.
func TestUnusableTextIsRefusedAlikeOnBothDialects(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		id := b.create("products", map[string]any{"name": "Kept", "price": 1})
		keys := func() int {
			list, err := b.app.Accounts.Keys().List(context.Background())
			require.NoError(t, err)
			return len(list)
		}
		products, users, nkeys := b.count("products"), b.count("users"), keys()
		for _, tc := range textCases() {
			t.Run(tc.name, func(t *testing.T) {
				headers := []string{"Content-Type", "application/json"}
				if tc.anonymous {
					headers = append(headers, "Authorization", "")
				}
				var body any
				if tc.body != "" {
					body = []byte(tc.body)
				}
				res := b.do(tc.method, strings.Replace(tc.path, "{id}", id, 1), body, headers...)
				require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
				require.Equal(t, "malformed_request", res.body["error"], string(res.raw))
				require.Equal(t, map[string]string{strings.ToValidUTF8(tc.field, "\\uFFFD"): tc.code}, fieldCodes(res.body), string(res.raw))
			})
		}
		require.Equal(t, products, b.count("products"))
		require.Equal(t, users, b.count("users"))
		require.Equal(t, nkeys, keys())
		got := b.do("GET", "/api/products/"+id, nil)
		require.Equal(t, "Kept", got.body["name"], fmt.Sprint("nothing was changed: ", got.body))
	})
}
