package payments

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/value"
)

func TestMinorUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		amount   string
		scale    int
		currency string
		want     int64
		err      bool
	}{
		{name: "EurTwoDecimals", amount: "29.99", scale: 2, currency: "eur", want: 2999},
		{name: "EurWholeAmountAtScaleTwo", amount: "30", scale: 2, currency: "eur", want: 3000},
		{name: "EurFromScaleZero", amount: "12", scale: 0, currency: "eur", want: 1200},
		{name: "EurFromScaleFourExact", amount: "0.1000", scale: 4, currency: "eur", want: 10},
		{name: "EurFromScaleFourInexact", amount: "0.1001", scale: 4, currency: "eur", err: true},
		{name: "JpyZeroDecimal", amount: "1500", scale: 2, currency: "jpy", want: 1500},
		{name: "JpyFraction", amount: "1500.50", scale: 2, currency: "jpy", err: true},
		{name: "KwdThreeDecimals", amount: "1.25", scale: 2, currency: "kwd", want: 1250},
		{name: "Zero", amount: "0", scale: 2, currency: "usd", want: 0},
		{name: "Negative", amount: "-1", scale: 2, currency: "usd", err: true},
		{name: "LargestExact", amount: "99999999999999.99", scale: 2, currency: "usd", want: 9999999999999999},
		{name: "Overflow", amount: "999999999999999999", scale: 0, currency: "kwd", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := value.ParseDecimal(tt.amount, value.MaxPrecision, tt.scale)
			require.NoError(t, err)
			got, err := MinorUnits(d, tt.currency)
			if tt.err {
				require.ErrorIs(t, err, ErrAmount)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFromMinor(t *testing.T) {
	t.Parallel()
	require.Equal(t, "29.99", FromMinor(2999, "eur"))
	require.Equal(t, "1500", FromMinor(1500, "jpy"))
	require.Equal(t, "1.25", FromMinor(1250, "kwd"))
}

func TestRankOnlyMovesForward(t *testing.T) {
	t.Parallel()
	order := []string{StateOpen, StateFailed, StatePaid, StateRefunded}
	for i := 1; i < len(order); i++ {
		require.Greater(t, rank(order[i]), rank(order[i-1]))
	}
	require.Equal(t, rank(StatePaid), rank(StateMismatch))
}
