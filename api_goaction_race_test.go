package kiln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// walletSpec: a Go action on a payment that credits its wallet through the action's Tx.
const walletSpec = `resources:
  wallets:
    fields:
      balance: {type: integer, default: 0}
  credits:
    fields:
      wallet: {type: relation, to: wallets, required: true}
      amount: {type: integer, required: true}
    actions:
      apply:
        access: public
        go: true
`

// A Go action reads another record with call.Tx.Get and writes it with call.Tx.Update, as a
// transfer does: concurrent actions crediting one wallet each add their amount. Tx.Get read
// the wallet without a lock on PostgreSQL, so overlapping actions computed from the same
// balance and overwrote each other (a lost update).
func TestGoActionsUpdatingOneRecordThroughTxLoseNothing(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		x := &kiln.Extensions{}
		x.Action("credits", "apply", func(ctx context.Context, call kiln.ActionCall) (string, error) {
			id := call.Record.Fields["wallet"].(string)
			w, err := call.Tx.Get(ctx, "wallets", id)
			if err != nil {
				return "", err
			}
			bal := toInt(w.Fields["balance"])
			amt := call.Record.Fields["amount"]
			_, err = call.Tx.Update(ctx, "wallets", id, map[string]any{"balance": bal + toInt(amt)})
			return "", err
		})
		b := setupConfig(t, dialect, walletSpec, nil, nil, func(cfg *kiln.Config) { cfg.Extensions = x })
		wallet := b.create("wallets", map[string]any{})
		const n = 16
		credits := make([]string, n)
		for i := range n {
			credits[i] = b.create("credits", map[string]any{"wallet": wallet, "amount": 1})
		}
		counts := statusCounts(n, func(i int) int {
			return b.do("POST", "/api/credits/"+credits[i]+"/apply", nil).status
		})
		require.Equal(t, map[int]int{http.StatusOK: n}, counts)
		require.Equal(t, json.Number(fmt.Sprint(n)), b.do("GET", "/api/wallets/"+wallet, nil).body["balance"])
	})
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case json.Number:
		n, _ := x.Int64()
		return n
	}
	panic(fmt.Sprintf("not a number: %T", v))
}
