package kiln_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

const restockSpec = `resources:
  products:
    fields:
      stock: {type: integer, default: 0}
    access: {list: public, view: public, create: public, update: public, delete: public}
  orders:
    fields:
      status: {type: enum, values: [open, cancelled], default: open}
      note: {type: string, default: "-"}
      items: {type: relation, to: items, inverse: order}
    effects:
      - name: restock
        on: [update]
        when: "old.status != 'cancelled' && record.status == 'cancelled'"
        each: items
        update: products
        id: item.product
        set: {stock: "target.stock + item.quantity"}
    access: {list: public, view: public, create: public, update: public, delete: public}
  items:
    fields:
      order: {type: relation, to: orders, required: true}
      product: {type: relation, to: products, required: true}
      quantity: {type: integer, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`

// An effect with each: reads the children it applies to locked (PostgreSQL): a line whose
// quantity another transaction holds and changes is restocked with the quantity that
// transaction commits, not the one read before it did. Unlocked, the cancel read quantity 2
// at once and restocked 2 while the line ended at 5.
func TestEffectEachLocksTheChildrenItReads(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		b := setup(t, "postgres", restockSpec)
		product := b.create("products", map[string]any{"stock": 0})
		order := b.create("orders", map[string]any{})
		item := b.create("items", map[string]any{"order": order, "product": product, "quantity": 2})

		locked, release := make(chan struct{}), make(chan struct{})
		holder := make(chan error, 1)
		go func() {
			holder <- b.app.Store.InTx(context.Background(), func(tx *store.Exec) error {
				rows, err := tx.QueryRaw(context.Background(), `SELECT 1 FROM "items" WHERE "id" = ? FOR UPDATE`, item)
				if err != nil {
					return err
				}
				rows.Close()
				close(locked)
				<-release
				rows, err = tx.QueryRaw(context.Background(), `UPDATE "items" SET "quantity" = 5 WHERE "id" = ?`, item)
				if err != nil {
					return err
				}
				return rows.Close()
			})
		}()
		<-locked
		// An update that cancels nothing does not wait for the line.
		require.Equal(t, 200, b.do("PATCH", "/api/orders/"+order, map[string]any{"note": "x"}).status)

		cancelled := make(chan response, 1)
		go func() { cancelled <- b.do("PATCH", "/api/orders/"+order, map[string]any{"status": "cancelled"}) }()
		var res response
		select {
		case res = <-cancelled:
			close(release) // it did not wait: the line changes after the restock read it
		case <-time.After(time.Second):
			close(release) // it waits for the line: the change commits first
			res = <-cancelled
		}
		require.NoError(t, <-holder)
		require.Equal(t, 200, res.status, string(res.raw))
		got := b.do("GET", "/api/products/"+product, nil)
		require.Equal(t, 200, got.status)
		require.Equal(t, "5", fmt.Sprint(got.body["stock"]), "restocked with the quantity committed before the cancel")
	})
}
