package derive

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The co-working spec's shapes (testdata/cowork.yaml), each once a gap of the derived suite:
// records only their creators may make, a 1:1 relation to the creator's account, an optional
// relation to records the creating role cannot view, and API keys, which own nothing.
func TestCoworkOwnershipShapes(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/cowork.yaml")
	require.Empty(t, suite.Gaps)

	t.Run("CreatesOnlyOwnRecordsAreDerived", func(t *testing.T) {
		t.Parallel()
		create := casesOf(t, suite, "reviews.create.test.yaml")
		require.Equal(t, 201, create["create_valid"].Expected.Status)
		for _, name := range []string{"forbidden_for_admin", "forbidden_for_host"} {
			require.Equal(t, 403, create[name].Expected.Status, name)
		}
		require.Equal(t, 403, create["create_with_an_api_key"].Expected.Status, "no auth.id: the author rule cannot hold")
		require.Equal(t, 400, create["author_not_writable_by_member"].Expected.Status, "only admins set author, on any record")
		view := casesOf(t, suite, "reviews.view.test.yaml")
		require.Equal(t, "member:maker", view["record"].As, "the record is not the member test account's own")
		require.Equal(t, 404, view["other_accounts_record_as_member"].Expected.Status)
	})

	t.Run("AnotherAccountsRecordIsRefusedOnCreate", func(t *testing.T) {
		t.Parallel()
		// a host creates lockers only on its own desks (record.desk.host == auth.id): a desk
		// another host made, which hosts can view, is refused, and nothing is written
		create := casesOf(t, suite, "lockers.create.test.yaml")
		c, ok := create["desk_of_another_host"]
		require.True(t, ok, "no case creating a locker on another host's desk")
		require.Equal(t, "host", c.As)
		require.Equal(t, 403, c.Expected.Status)
		require.Contains(t, c.Expected.ResponseContains, map[string]any{"error": "forbidden"})
		require.Len(t, c.Expected.DatabaseCheck, 1)
		body, _ := c.Request.Body.(map[string]any)
		desk, _ := body["desk"].(string)
		setup := strings.TrimSuffix(strings.TrimPrefix(desk, "{"), ".response.id}")
		require.Equal(t, "host:other_desk", create[setup].As, "the desk is another host's own")
		// members see only their own bookings: another member's is refused as not found before
		// the rule is read, so no such case is derived for reviews
		_, ok = casesOf(t, suite, "reviews.create.test.yaml")["booking_of_another_member"]
		require.False(t, ok)
	})

	t.Run("OneRecordPerAccount", func(t *testing.T) {
		t.Parallel()
		for file, account := range map[string]string{"profiles.view.test.yaml": "member:profiles_view",
			"profiles.update.test.yaml": "member:profiles_update"} {
			byName := casesOf(t, suite, file)
			require.Equal(t, account, byName["owned_by_member"].As, file)
			require.Equal(t, account, byName["own_record_as_member"].As, file)
		}
		list := casesOf(t, suite, "profiles.list.test.yaml")
		require.Equal(t, "member:profiles_list", list["all_pages_as_member"].As)
		create := casesOf(t, suite, "profiles.create.test.yaml")
		body, _ := create["create_valid"].Request.Body.(map[string]any)
		require.Contains(t, body, "account", "an admin's profile is for an account of its own, not the admin's")
	})

	t.Run("HiddenOptionalLinksAreLeftOut", func(t *testing.T) {
		t.Parallel()
		own := casesOf(t, suite, "bookings.view.test.yaml")["owned_by_member"]
		body, _ := own.Request.Body.(map[string]any)
		require.NotContains(t, body, "invoice", "members cannot view invoices")
		valid, _ := casesOf(t, suite, "bookings.create.test.yaml")["create_valid"].Request.Body.(map[string]any)
		require.Contains(t, valid, "invoice", "admins can")
	})

	t.Run("KeysSeeNoOwnRecords", func(t *testing.T) {
		t.Parallel()
		key := casesOf(t, suite, "checkins.create.test.yaml")["create_with_an_api_key"]
		require.Equal(t, 400, key.Expected.Status)
		require.Contains(t, key.Expected.ResponseContains, map[string]any{"errors.*.field": "booking"})
	})
}

// testdata/oneprofile.yaml: a unique relation to the account, defaulting to the creator, that
// no role creating the record may set (profiles: admins set it but make none; cards: readonly).
// Each account holds one record, so every record the suite makes is made by an account that
// has none (many by the same test account clashed: 78 failed cases on a correct server), and
// the one taken-value case is an account's second record.
func TestOneRecordPerAccountShapes(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/oneprofile.yaml")
	require.Empty(t, suite.Gaps)
	list := casesOf(t, suite, "profiles.list.test.yaml")
	for _, name := range []string{"record_1", "record_2", "record_5"} {
		require.Equal(t, "member:profiles_list_"+name, list[name].As, name)
	}
	require.Equal(t, "member:profiles_list", list["owned_by_member"].As, "an account of the file's own keeps its record")
	require.Equal(t, "member:profiles_update_record", casesOf(t, suite, "profiles.update.test.yaml")["record"].As)
	require.Equal(t, "admin:cards_list_record_2", casesOf(t, suite, "cards.list.test.yaml")["record_2"].As)

	create := casesOf(t, suite, "profiles.create.test.yaml")
	second := create["account_taken_by_a_second_record"]
	require.Equal(t, create["create_valid"].As, second.As, "the second record is create_valid's account's")
	require.Equal(t, "member:profiles_create_create_valid", second.As)
	require.Equal(t, 409, second.Expected.Status)
	require.Contains(t, second.Expected.ResponseContains, map[string]any{"errors.*.field": "account"})
	require.Equal(t, 403, create["forbidden_for_admin"].Expected.Status)

	key := casesOf(t, suite, "cards.create.test.yaml")["create_with_an_api_key"]
	require.Equal(t, 400, key.Expected.Status, "a key is no account and may not send the readonly account")
	require.Contains(t, key.Expected.ResponseContains, map[string]any{"errors.*.code": "required"})
}
