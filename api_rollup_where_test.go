package kiln_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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

	path, err := loadSpecIn(t, t.TempDir(), strings.Replace(leasesSpec, "status != 'paid'", "state != 'paid'", 1))
	require.Error(t, err)
	require.Contains(t, err.Error(), path+":7:")
	require.Contains(t, err.Error(), "leases.outstanding rollup.where:")
	require.Contains(t, err.Error(), "state")
}

// A where: reading a child field that changes without a write of the child — the child's own
// rollup (a grandchild's write refreshes the child alone), or an optional relation a delete of
// its target sets to null inside the database — would leave the rollup stale (a helper's review
// proved both): it is a spec error at the where:. A field whose name ends another's is not it.
func TestRollupWhereRefusesFieldsThatChangeWithoutAChildWrite(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ spec, want string }{
		{`resources:
  leases:
    fields:
      invoices: {type: relation, to: invoices, inverse: lease}
      open: {type: integer, rollup: {count: true, of: invoices, where: "balance > 0"}}
  invoices:
    fields:
      lease: {type: relation, to: leases, required: true}
      charges: {type: relation, to: charges, inverse: invoice}
      balance: {type: decimal, rollup: {sum: amount, of: charges}}
  charges:
    fields:
      invoice: {type: relation, to: invoices, required: true}
      amount: {type: decimal, required: true}
`, ":5:72: field open: rollup where: reads invoices.balance, itself a rollup or computed from one"},
		{`resources:
  people:
    fields:
      name: string
  projects:
    fields:
      tasks: {type: relation, to: tasks, inverse: project}
      assigned: {type: integer, rollup: {count: true, of: tasks, where: "assignee != null"}}
  tasks:
    fields:
      project: {type: relation, to: projects, required: true}
      assignee: {type: relation, to: people}
`, ":8:73: field assigned: rollup where: reads tasks.assignee, an optional relation a delete of its target sets to null"},
	} {
		path, err := loadSpecIn(t, t.TempDir(), c.spec)
		require.Error(t, err)
		require.Contains(t, err.Error(), path+c.want)
	}
	ok := strings.Replace(leasesSpec, "status != 'paid'", "status != 'paid' && prior_balance >= 0", 1)
	ok = strings.Replace(ok, "      status: {type: enum", "      balance: {type: decimal, rollup: {sum: amount, of: lines}}\n      lines: {type: relation, to: lines, inverse: invoice}\n      prior_balance: decimal\n      status: {type: enum", 1)
	ok += "  lines:\n    fields:\n      invoice: {type: relation, to: invoices, required: true}\n      amount: decimal\n"
	_, err := loadSpecIn(t, t.TempDir(), ok)
	require.NoError(t, err, "prior_balance is not balance")
}
