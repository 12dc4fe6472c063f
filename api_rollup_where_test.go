package kiln_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// leasesSpec: a lease's outstanding balance and its count of unpaid invoices, beside its total.
const leasesSpec = `resources:
  leases:
    fields:
      name: string
      invoices: {type: relation, to: invoices, inverse: lease}
      total: {type: decimal, rollup: {sum: amount, of: invoices}}
      outstanding: {type: decimal, rollup: {sum: amount, of: invoices, where: "status != 'paid'"}}
      unpaid: {type: integer, rollup: {count: true, of: invoices, where: "status == 'unpaid' && amount > 0"}}
  invoices:
    fields:
      lease: {type: relation, to: leases, required: true}
      amount: {type: decimal, required: true}
      status: {type: enum, values: [unpaid, paid], default: unpaid}
`

// A rollup with where: counts only the children its filter admits — an outstanding balance —
// and follows every child write that moves a child in or out of it: paying one, moving one to
// another lease, deleting one (a trial: "a rollup cannot filter its children").
func TestRollupWhereCountsOnlyTheChildrenItAdmits(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, leasesSpec)
		a, other := b.create("leases", map[string]any{"name": "a"}), b.create("leases", map[string]any{"name": "b"})
		var inv []string
		for _, amount := range []string{"100.50", "20.25", "0"} {
			inv = append(inv, b.create("invoices", map[string]any{"lease": a, "amount": json.Number(amount)}))
		}
		balance := func(id string) (string, string, string) {
			body := b.do("GET", "/api/leases/"+id, nil).body
			return string(body["total"].(json.Number)), string(body["outstanding"].(json.Number)), string(body["unpaid"].(json.Number))
		}
		check := func(id, total, outstanding, unpaid string) {
			t.Helper()
			gt, go_, gu := balance(id)
			require.Equal(t, []string{total, outstanding, unpaid}, []string{gt, go_, gu})
		}
		check(a, "120.75", "120.75", "2")
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/invoices/"+inv[0], map[string]any{"status": "paid"}).status)
		check(a, "120.75", "20.25", "1")
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/invoices/"+inv[1], map[string]any{"lease": other}).status)
		check(a, "100.5", "0", "0")
		check(other, "20.25", "20.25", "1")
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/invoices/"+inv[0], map[string]any{"status": "unpaid"}).status)
		check(a, "100.5", "100.5", "1")
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/invoices/"+inv[0], nil).status)
		check(a, "0", "0", "0")
	})

	dir := t.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(leasesSpec, "status != 'paid'", "state != 'paid'", 1)), 0o644))
	_, err := kiln.LoadSpec(path, noEnv)
	require.Error(t, err)
	require.Contains(t, err.Error(), path+":7:")
	require.Contains(t, err.Error(), "leases.outstanding rollup.where:")
	require.Contains(t, err.Error(), "state")
}
