package service

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseExpandPaths(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	tests := []struct {
		name     string
		resource string
		expand   string
		fields   string
		want     []string // the paths; nil: refused
		wantFrom []string // the fields returned, when fields is given
	}{
		{name: "OneLevel", resource: "products", expand: "category,tags", want: []string{"category", "tags"}},
		{name: "Nested", resource: "order_items", expand: "order.customer,product.category", want: []string{"order.customer", "product.category"}},
		{name: "ThreeDeep", resource: "order_items", expand: "order.customer.orders", want: []string{"order.customer.orders"}},
		{name: "InverseThenToOne", resource: "orders", expand: "items.product", want: []string{"items.product"}},
		{name: "PathAndItsPrefix", resource: "order_items", expand: "order,order.customer", want: []string{"order", "order.customer"}},
		{name: "FieldsGetTheFirstRelation", resource: "order_items", expand: "order.customer", fields: "quantity",
			want: []string{"order.customer"}, wantFrom: []string{"quantity", "order"}},
		{name: "UnknownAtDepth", resource: "order_items", expand: "order.nope"},
		{name: "NotARelation", resource: "order_items", expand: "order.status"},
		{name: "TooDeep", resource: "order_items", expand: "order.customer.orders.items"},
		{name: "EmptySegment", resource: "order_items", expand: "order..customer"},
		{name: "TrailingDot", resource: "order_items", expand: "order."},
		{name: "EmptyPath", resource: "order_items", expand: "order,"},
		{name: "GivenTwiceIsReadOnce", resource: "order_items", expand: "order.customer,order,order.customer", want: []string{"order.customer", "order"}},
		{name: "ListWithinList", resource: "customers", expand: "orders.items"},
		{name: "InverseThenToMany", resource: "categories", expand: "products.tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := url.Values{"expand": {tt.expand}}
			if tt.fields != "" {
				q.Set("fields", tt.fields)
			}
			p, err := svc.ParseList(tt.resource, q)
			if tt.want == nil {
				require.Equal(t, map[string]string{"expand": "invalid_expand"}, codesOf(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, p.Expand)
			if tt.wantFrom != nil {
				require.Equal(t, tt.wantFrom, p.Fields)
			}
		})
	}
}

func TestExpandTreeSharesPrefixes(t *testing.T) {
	t.Parallel()
	tree := expandTree([]string{"order.customer", "product", "order", "order.customer.orders", "product.category"})
	require.Len(t, tree, 2)
	require.Equal(t, "order", tree[0].name)
	require.Len(t, tree[0].sub, 1)
	require.Equal(t, "customer", tree[0].sub[0].name)
	require.Equal(t, "orders", tree[0].sub[0].sub[0].name)
	require.Equal(t, "category", tree[1].sub[0].name)
}
