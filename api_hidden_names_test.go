package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A hidden field answers as no field where a client names it: ?salary=1 is unknown_parameter
// as ?nonexistent=1 is (it was not_filterable, which told the field was there), and a body
// naming a hidden readonly field — the account's password_hash — is unknown_field (it was
// readonly, "cannot be written"). A hostile review listed hidden names this way.
func TestHiddenFieldsAnswerAsNoField(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", salaried)
	alice := b.account("member")
	ta := bearer(b.tokenFor(alice))
	for _, name := range []string{"salary", "nonexistent", "password_hash"} {
		res := b.do("GET", "/api/users?"+name+"=1", nil, ta...)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, map[string]string{name: "unknown_parameter"}, fieldCodes(res.body), string(res.raw))
	}
	for _, name := range []string{"nonexistent", "password_hash"} {
		res := b.do("PATCH", "/api/users/"+alice, map[string]any{name: "x"}, ta...)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, map[string]string{name: "unknown_field"}, fieldCodes(res.body), string(res.raw))
		require.Equal(t, "is not a field of users", res.body["errors"].([]any)[0].(map[string]any)["message"])
	}
}
