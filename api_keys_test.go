package kiln_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAPIKeysAreScoped(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		res := b.do("POST", "/api/auth/keys", map[string]any{"name": "catalog reader", "role": "staff", "scopes": []string{"products:read"}})
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		secret := res.body["key"].(string)
		require.True(t, strings.HasPrefix(secret, "kiln_"))
		meta := res.body["api_key"].(map[string]any)
		require.True(t, strings.HasPrefix(secret, meta["prefix"].(string)), "the visible prefix identifies the key")

		require.Equal(t, http.StatusOK, b.do("GET", "/api/products", nil, "Authorization", "", "X-API-Key", secret).status)
		require.Equal(t, http.StatusOK, b.do("GET", "/api/products", nil, bearer(secret)...).status)
		created := b.do("POST", "/api/products", map[string]any{"name": "X", "price": 1}, bearer(secret)...)
		require.Equal(t, http.StatusForbidden, created.status, "staff role, but the scope is read-only")
		require.Equal(t, http.StatusForbidden, b.do("GET", "/api/orders", nil, bearer(secret)...).status, "other resources are out of scope")

		list := b.do("GET", "/api/auth/keys", nil)
		require.Equal(t, http.StatusOK, list.status)
		require.NotContains(t, string(list.raw), secret, "the secret is shown once")
		require.NotNil(t, list.body["items"].([]any)[0].(map[string]any)["last_used_at"])

		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/auth/keys/"+meta["id"].(string), nil).status)
		revoked := b.do("GET", "/api/products", nil, bearer(secret)...)
		require.Equal(t, http.StatusUnauthorized, revoked.status)

		short := b.do("POST", "/api/auth/keys", map[string]any{"name": "short", "role": "staff", "scopes": []string{"*:read"}, "expires_in": "1ns"})
		require.Equal(t, http.StatusCreated, short.status)
		require.Equal(t, http.StatusUnauthorized, b.do("GET", "/api/products", nil, bearer(short.body["key"].(string))...).status, "expired")

		require.Equal(t, http.StatusUnauthorized, b.do("GET", "/api/products", nil, bearer("kiln_AAAAAAAA_forged")...).status)
		require.Equal(t, http.StatusForbidden, b.do("POST", "/api/auth/keys", map[string]any{"name": "x", "role": "admin", "scopes": []string{"*:*"}},
			bearer(b.token("staff"))...).status, "only admins create keys")
		bad := b.do("POST", "/api/auth/keys", map[string]any{"name": "", "role": "root", "scopes": []string{"nope:read"}})
		require.Equal(t, map[string]string{"name": "required", "role": "enum", "scopes": "invalid_scope"}, fieldCodes(bad.body))

		// each bad scope is named, with what is wrong in it (a new user's trial got one message for three)
		bad = b.do("POST", "/api/auth/keys", map[string]any{"name": "ci", "role": "staff", "scopes": []string{"products:fly", "prodcts:read", "*:*", "orders"}})
		require.Equal(t, http.StatusBadRequest, bad.status, string(bad.raw))
		var msgs []string
		for _, e := range bad.body["errors"].([]any) {
			msgs = append(msgs, e.(map[string]any)["message"].(string))
		}
		require.Len(t, msgs, 3)
		require.Contains(t, msgs[0], `"products:fly": products has no action "fly"`)
		require.Contains(t, msgs[1], `"prodcts:read": no resource "prodcts" (did you mean "products"?)`)
		require.Contains(t, msgs[2], `"orders" has no action (resource:action)`)
	})
}

func TestAPIKeysHaveTheirOwnRateLimit(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("examples/shop/kiln.yaml")
	require.NoError(t, err)
	b := setup(t, "sqlite", strings.Replace(string(src), "${KILN_RATE_API_KEY:-1200/min}", "3/min", 1))
	key := func() string {
		res := b.do("POST", "/api/auth/keys", map[string]any{"name": "k", "role": "staff", "scopes": []string{"*:read"}})
		require.Equal(t, http.StatusCreated, res.status)
		return res.body["key"].(string)
	}
	k1, k2 := key(), key()
	for i := 0; i < 3; i++ {
		require.Equal(t, http.StatusOK, b.do("GET", "/api/products", nil, bearer(k1)...).status)
	}
	require.Equal(t, http.StatusTooManyRequests, b.do("GET", "/api/products", nil, bearer(k1)...).status)
	require.Equal(t, http.StatusOK, b.do("GET", "/api/products", nil, bearer(k2)...).status, "each key has its own bucket")
}

// A key acts with a role but is no account: rules comparing record fields with auth.id are
// false for it. An admin key sees every order; for a customer key the rule can never hold, so
// orders are forbidden to it (found by the derived suite: both were a 500).
func TestAPIKeysUnderRowRules(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		cust := b.create("customers", map[string]any{"name": "Ann", "email": "ann@example.com"})
		order := b.do("POST", "/api/orders", map[string]any{"notes": "n"}, bearer(b.token("customer"))...)
		require.Equal(t, http.StatusCreated, order.status)
		key := func(role string) string {
			res := b.do("POST", "/api/auth/keys", map[string]any{"name": role, "role": role, "scopes": []string{"orders:read"}})
			require.Equal(t, http.StatusCreated, res.status)
			return res.body["key"].(string)
		}
		admin, customer := key("admin"), key("customer")
		list := b.do("GET", "/api/orders?count=true", nil, bearer(admin)...)
		require.Equal(t, http.StatusOK, list.status)
		require.Equal(t, fmt.Sprint(b.count("orders")), fmt.Sprint(list.body["total"]))
		id := order.body["id"].(string)
		require.Equal(t, http.StatusOK, b.do("GET", "/api/orders/"+id, nil, bearer(admin)...).status)
		require.Equal(t, http.StatusForbidden, b.do("GET", "/api/orders", nil, bearer(customer)...).status)
		require.Equal(t, http.StatusForbidden, b.do("GET", "/api/orders/"+id, nil, bearer(customer)...).status)

		// Linking a customer needs a key that may read customers: a target it cannot view is
		// answered like a missing one.
		writer := b.do("POST", "/api/auth/keys", map[string]any{"name": "w", "role": "admin", "scopes": []string{"orders:write"}})
		blind := b.do("POST", "/api/orders", map[string]any{"customer": cust}, bearer(writer.body["key"].(string))...)
		require.Equal(t, http.StatusBadRequest, blind.status)
		require.Equal(t, map[string]string{"customer": "not_found"}, fieldCodes(blind.body))
		require.Contains(t, string(blind.raw), "its scopes do not cover customers:read", "the key is told why (a new user's trial)")
		writer = b.do("POST", "/api/auth/keys", map[string]any{"name": "w", "role": "admin", "scopes": []string{"orders:write", "customers:read"}})
		made := b.do("POST", "/api/orders", map[string]any{"customer": cust}, bearer(writer.body["key"].(string))...)
		require.Equal(t, http.StatusCreated, made.status, "owner defaults to auth.id, which a key does not have: it stays empty")
		require.Nil(t, made.body["owner"])
	})
}

// A key may be scoped to one record action (orders:cancel): a door scanner that checks tickets
// in needs no right to create, change or delete them. The scope was refused as invalid_scope
// (found with internal/derive/testdata/tickets.yaml's check-in), which left orders:write, that
// also creates, updates and deletes, as the narrowest scope running the action.
func TestAPIKeyScopedToOneRecordAction(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		a := b.product("A", "3", 10)
		order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(a, 1)}}, bearer(b.token("customer"))...)
		require.Equal(t, http.StatusCreated, order.status)
		id := order.body["id"].(string)
		res := b.do("POST", "/api/auth/keys", map[string]any{"name": "canceller", "role": "staff", "scopes": []string{"orders:cancel"}})
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		key := bearer(res.body["key"].(string))

		require.Equal(t, http.StatusForbidden, b.do("PATCH", "/api/orders/"+id, map[string]any{"notes": "x"}, key...).status, "no update")
		require.Equal(t, http.StatusForbidden, b.do("GET", "/api/orders", nil, key...).status, "no read")
		require.Equal(t, http.StatusForbidden, b.do("DELETE", "/api/orders/"+id, nil, key...).status, "no delete")
		cancelled := b.do("POST", "/api/orders/"+id+"/cancel", nil, key...)
		require.Equal(t, http.StatusOK, cancelled.status, string(cancelled.raw))
		require.Equal(t, "cancelled", cancelled.body["status"])

		for _, scope := range []string{"orders:refund_all", "*:cancel", "products:cancel"} {
			bad := b.do("POST", "/api/auth/keys", map[string]any{"name": "k", "role": "staff", "scopes": []string{scope}})
			require.Equal(t, map[string]string{"scopes": "invalid_scope"}, fieldCodes(bad.body), scope)
		}
	})
}

// A nested child is a write of its own resource: an API key creates one only with that
// resource's create scope. A key scoped to orders:create made order items too — the child's
// access rule is its parent's, and the scope check went with it (a hostile review found it).
func TestAPIKeyScopesCoverNestedChildren(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		prod := b.product("Boot", "19.99", 10)
		key := func(scopes ...string) []string {
			res := b.do("POST", "/api/auth/keys", map[string]any{"name": "k", "role": "staff", "scopes": scopes})
			require.Equal(t, http.StatusCreated, res.status, string(res.raw))
			return bearer(res.body["key"].(string))
		}
		body := map[string]any{"items": []any{item(prod, 1)}}
		narrow := key("orders:create", "products:read")
		res := b.do("POST", "/api/orders", body, narrow...)
		require.Equal(t, http.StatusForbidden, res.status, string(res.raw))
		require.Contains(t, res.body["detail"], "order_items")
		require.Equal(t, int64(0), b.count("orders"), "nothing written")
		require.Equal(t, int64(0), b.count("order_items"))
		res = b.do("POST", "/api/orders", map[string]any{}, narrow...)
		require.Equal(t, http.StatusCreated, res.status, "an order without items is the key's to make: %s", res.raw)
		res = b.do("POST", "/api/orders", body, key("orders:create", "order_items:create", "products:read")...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		require.Equal(t, int64(1), b.count("order_items"))
	})
}
