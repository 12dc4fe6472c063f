package openapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A custom route's operationId is its method and its path's words, stable while they are; one
// another operation already has gets a number, so the document never holds an id twice.
func TestRouteID(t *testing.T) {
	t.Parallel()
	ids := map[string]bool{"getReportsSales": true}
	for _, tc := range []struct {
		method, path, want string
	}{
		{method: "post", path: "reports/sales", want: "postReportsSales"},
		{method: "get", path: "reports/sales", want: "getReportsSales2"},
		{method: "get", path: "reports/{shop}/daily/{day}", want: "getReportsByShopDailyByDay"},
		{method: "get", path: "a-b", want: "getAB"},
		{method: "get", path: "a_b", want: "getAB2"},
		{method: "delete", path: "/hooks/partner_events", want: "deleteHooksPartnerEvents"},
	} {
		require.Equal(t, tc.want, routeID(ids, tc.method, tc.path), "%s %s", tc.method, tc.path)
	}
}
