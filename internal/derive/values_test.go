package derive

import (
	"testing"

	"github.com/kiln-dev/kiln/internal/spec"
)

func TestShiftMovesNumbersExactly(t *testing.T) {
	t.Parallel()
	max := "99999.99"
	for _, tc := range []struct {
		name, base string
		k          int
		max        *string
		want       string
	}{
		{name: "DecimalExampleStaysAtItsScale", base: "19.99", k: 21, want: "40.99"},
		{name: "TrailingZerosAreDropped", base: "450.00", k: 1, want: "451"},
		{name: "Integer", base: "50", k: 3, want: "53"},
		{name: "ZeroKeepsTheText", base: "19.990", k: 0, want: "19.990"},
		{name: "Exponent", base: "1.5e-3", k: 2, want: "2.0015"},
		{name: "PastMaxKeepsTheBase", base: "99999.5", k: 1, max: &max, want: "99999.5"},
		{name: "NotANumber", base: "x", k: 1, want: "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &spec.Field{Name: "price", Type: spec.TypeDecimal, Max: tc.max}
			if got := shift(f, tc.base, tc.k); got != tc.want {
				t.Fatalf("shift(%s, %d) = %s, want %s", tc.base, tc.k, got, tc.want)
			}
		})
	}
}
