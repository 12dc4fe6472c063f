package derive_test

import (
	"testing"

	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/kilntest"
)

// The derived suites of the test specs pass on both dialects. They run here, in the plain
// test step, not beside the harness's own tests under the race detector (which made them six
// times slower and the longest test of CI); the shop's suite still runs there, through the
// Go harness (kilntest). Each spec is of another shape:
//   - everything: every field type, row rules on a self-referencing resource and a unique field
//     whose pattern leaves no room for {unique};
//   - open: no auth, a relation cycle through an inverse, a self-relation, a short unique field;
//   - clinic: fields whose examples matter (two date-times a rule compares, a date, an enum and
//     a boolean whose examples are not their first values) and a unique to-one relation;
//   - tracker: a multi-tenant issue tracker (chains of to-one relations in row rules, a guard on
//     the old N:M assignees, an action that creates a record, composite unique indexes, rollups);
//   - cycle: two resources that point at each other, owned by their makers;
//   - bookings: unique indexes over several fields (a relation and a date, a date and an enum,
//     the creator's account and a date, a relation, a boolean and an integer);
//   - cowork: records only their creators may make, a 1:1 relation to the creator's account,
//     an optional relation to records the creating role cannot view, API keys that own nothing;
//   - oneprofile: one record per account, the relation to it set by no creating role;
//   - hiddenrows: required relations to records the viewing or updating role cannot link (seen
//     by a row rule that selects another account's, or listed but not viewed);
//   - school: a capacity rule counting other records, an N:M with fields of its own (unique
//     per pair), actions with asserts and input, a row rule through a relation another role
//     makes (a teacher's sections), a value computed through two hops, an admin-only target;
//   - market: a row rule by owner or by state (buyers see published listings, sellers their
//     own), a decimal example with cents, an order state machine moved by five actions,
//     nested lines with a CEL price and computed totals, stock taken by an effect over the
//     lines, a soft-deleted resource with a JSON field, a file and a self relation;
//   - tickets: event ticketing — a ticket refers to its event directly and through its ticket
//     type (a rule holds them equal), row rules two hops away (an organizer's tickets through
//     the type's event), rules counting tickets against a quota and a capacity, an optional
//     promo code an effect counts, a refund action with a required input, a schedule, an N:M.
//   - inventory: stock levels under a composite unique index (warehouse, item), transfers with
//     two required relations to the same resource (one allow_hidden) moved by a state machine
//     whose effects write both stock levels, row rules two hops away (a clerk's transfers
//     through the stock level's warehouse), a computed field, a soft-deleted resource, an N:M.
//   - fleet: vehicle rentals with maintenance — agents reach rentals and charges only through
//     the vehicle's branch (two and three hops) and may add vehicles only to branches they
//     manage, which only admins make; rollups count, sum, max and min through three inverses;
//     actions whose steps assert, set, update the vehicle and create a charge from input.
//   - academy: a course marketplace — courses with sections and lessons written nested two
//     levels deep, a review state machine only admins publish, a review that refers to its
//     course directly and through its enrollment (a rule holds them equal: the targets must be
//     shared from the second record on), coupons with a usage limit an effect counts and
//     students link without seeing them (allow_hidden), a price computed from the course and
//     the coupon, soft-deleted reviews whose ratings feed count, sum, min and max rollups and
//     an average computed from two of them, payouts computed by an aggregate.
//   - guarded: required fields, a relation among them, that only admins may write and nothing
//     defaults (see TestRequiredFieldsGuardedByWriteRolesAreSent).
//   - vetclinic: a spec a new user wrote from the docs alone — owners whose one account admins
//     may assign (unique, defaulting to the creator), pets in an owner's household, a booking
//     state machine with actions and a no-double-booking rule, nested treatments rolled up.
//   - gigs: tickets only for a published event (a status only an action sets, read through
//     get() by a create rule: setup events are published first) and within its capacity (a
//     conflict rule whose violated_by quantity is written against the capacity's example).
//   - crowdfund: pledges only to live campaigns (a draft first, moved by PATCH) and never to one's
//     own (record.campaign.owner != auth.id: targets made by another account of their role), a
//     rule an API key, which has no auth.id, cannot pass; a rollup of the pledges.
//   - workspace: access by membership — exists() on memberships tied by the record's org, its
//     own id or its project's org, an exists() over the resource itself, auth.id in an N:M
//     field and in an N:M inverse.
func TestDerivedSuitesOfTheTestSpecs(t *testing.T) {
	for _, name := range []string{"everything", "open", "clinic", "tracker", "cycle", "bookings", "cowork", "oneprofile", "hiddenrows", "school", "market", "tickets", "inventory", "fleet", "academy", "guarded", "vetclinic", "gigs", "crowdfund", "workspace"} {
		t.Run(name, func(t *testing.T) {
			testdb.EachDialectEnv(t, func(t *testing.T) {
				kilntest.New(t, "testdata/"+name+".yaml").RunDerived(t)
			})
		})
	}
}
