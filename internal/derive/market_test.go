package derive

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// testdata/market.yaml: a buyer's view of listings, "auth.role == 'admin' || record.seller ==
// auth.id || (auth.role == 'buyer' && record.status == 'published')", selects records by owner
// and by state. The suite expected another account's published listing to be a 404 for the
// buyer, where a correct server answers 200; it now expects the 200. Its update rule selects by
// owner only, so the buyer's PATCH and PUT of that listing stay 404s.
func TestOtherAccountsRecordTheRuleSelectsByState(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/market.yaml")
	view := casesOf(t, suite, "listings.view.test.yaml")
	require.NotContains(t, view, "other_accounts_record_as_buyer")
	require.Equal(t, 200, view["other_accounts_record_it_selects_as_buyer"].Expected.Status)
	require.Equal(t, 404, view["other_accounts_record_as_seller"].Expected.Status, "a seller reaches its own only")
	update := casesOf(t, suite, "listings.update.test.yaml")
	require.Equal(t, 404, update["other_accounts_record_as_buyer"].Expected.Status)
	require.Equal(t, 404, update["other_accounts_record_put_as_buyer"].Expected.Status)
}
