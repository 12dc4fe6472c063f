package derive

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// testdata/fleet.yaml: agents may add vehicles only to a branch they manage (create: "... ||
// (auth.role == 'agent' && record.branch.manager == auth.id)"), and only admins make branches,
// naming another account their manager. Agents reach rentals and charges only through the
// vehicle's branch (record.vehicle.branch.manager == auth.id). The suite made an agent's "own"
// vehicle for its own rental (setup_vehicles_21 as agent, expecting 201) on a branch an admin
// made: the server refuses it (403), and every case after it in the list and view files of
// rentals and rental_charges failed with it. An agent now makes no vehicle, so the own records
// of agents are not derived there.
func TestNoOwnRecordThroughATargetTheRoleCannotMake(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/fleet.yaml")
	require.Empty(t, suite.Gaps)
	for _, file := range []string{"rentals.list.test.yaml", "rentals.view.test.yaml",
		"rental_charges.list.test.yaml", "rental_charges.view.test.yaml", "rentals.cancel.test.yaml"} {
		for name, c := range casesOf(t, suite, file) {
			if c.Request.Path == "/api/vehicles" && c.Expected.Status == 201 {
				require.NotEqual(t, "agent", c.As, "%s: %s: an agent cannot make a vehicle its create rule selects", file, name)
			}
		}
	}
	view := casesOf(t, suite, "rentals.view.test.yaml")
	require.NotContains(t, view, "own_record_as_agent")
	// the agent's rental names a fresh customer (the open-rental limit counts by customer, and
	// agents may set it): it is no agent's own by its customer either, so the cancel rule
	// (record.customer == auth.id || record.vehicle.branch.manager == auth.id) selects no rental
	// an agent makes: no own-record cases, where the suite expected 200 and the server answers 404
	cancel := casesOf(t, suite, "rentals.cancel.test.yaml")
	for _, name := range []string{"own_record_of_agent", "own_record_as_agent", "other_account_as_agent"} {
		require.NotContains(t, cancel, name)
	}
	require.Equal(t, 200, cancel["own_record_as_customer"].Expected.Status, "a customer's own rental stays its own")
	require.Equal(t, 404, cancel["other_account_as_customer"].Expected.Status)
}
