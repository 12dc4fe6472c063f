package respcheck

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFindRoute(t *testing.T) {
	t.Parallel()
	var routes []route
	for _, tmpl := range []string{"/api/{resource}/{id}", "/api/orders/{id}", "/api/orders/events", "/api/orders/{id}/cancel",
		"/api/{resource}/{id}/cancel", "/api/orders", "/"} {
		routes = append(routes, newRoute(tmpl, nil))
	}
	slices.SortFunc(routes, moreLiteral)
	tests := []struct{ path, want string }{
		{path: "/api/orders/events", want: "/api/orders/events"},
		{path: "/api/orders/123", want: "/api/orders/{id}"},
		{path: "/api/tags/123", want: "/api/{resource}/{id}"},
		{path: "/api/orders/123/cancel", want: "/api/orders/{id}/cancel"},
		{path: "/api/tags/123/cancel", want: "/api/{resource}/{id}/cancel"},
		{path: "/api/orders", want: "/api/orders"},
		{path: "/", want: "/"},
		{path: "/api/orders/", want: ""},
		{path: "/api/orders/123/cancel/now", want: ""},
		{path: "/api", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			rt, ok := findRoute(routes, tt.path)
			require.Equal(t, tt.want != "", ok)
			require.Equal(t, tt.want, rt.template)
		})
	}
}
