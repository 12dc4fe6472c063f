package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// has() in access rules: has(auth.id) admits accounts and not API keys, has(record.<field>)
// admits records whose field holds a value, in lists (SQL: IS NOT NULL) and in writes.
func TestHasInAccessRules(t *testing.T) {
	t.Parallel()
	const src = `roles: [admin, member]
auth: {account: users, signup: "off", admin_roles: [admin]}
resources:
  users:
    fields: {name: string}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  posts:
    fields:
      title: {type: string, required: true}
      published_at: datetime
    access:
      list: "auth.role == 'admin' || (has(auth.id) && has(record.published_at))"
      view: "auth.role == 'admin' || (has(auth.id) && has(record.published_at))"
      create: "has(auth.id)"
      update: [admin]
      delete: [admin]
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		member := bearer(b.token("member"))
		draft := b.create("posts", map[string]any{"title": "draft"})
		out := b.create("posts", map[string]any{"title": "out", "published_at": "2026-01-01T00:00:00Z"})
		require.Equal(t, []string{out}, ids(b.do("GET", "/api/posts", nil, member...)))
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/posts/"+draft, nil, member...).status)
		res := b.do("POST", "/api/posts", map[string]any{"title": "mine"}, member...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))

		key := b.do("POST", "/api/auth/keys", map[string]any{"name": "ci", "role": "member", "scopes": []string{"posts:read", "posts:create"}})
		require.Equal(t, http.StatusCreated, key.status, string(key.raw))
		k := bearer(key.body["key"].(string))
		require.Equal(t, http.StatusForbidden, b.do("GET", "/api/posts", nil, k...).status, "an API key has no auth.id")
		require.Equal(t, http.StatusForbidden, b.do("POST", "/api/posts", map[string]any{"title": "k"}, k...).status)
	})
}
