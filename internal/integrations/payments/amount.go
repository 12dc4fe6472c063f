package payments

import (
	"fmt"
	"math"
	"slices"

	"github.com/kiln-dev/kiln/internal/value"
)

// Currencies Stripe counts in whole units (zero-decimal) and in thousandths (three-decimal);
// every other currency has two decimals (https://docs.stripe.com/currencies).
var (
	zeroDecimal  = []string{"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
	threeDecimal = []string{"bhd", "jod", "kwd", "omr", "tnd"}
)

// Exponent is the number of decimals Stripe's minor units of currency have.
func Exponent(currency string) int {
	switch {
	case slices.Contains(zeroDecimal, currency):
		return 0
	case slices.Contains(threeDecimal, currency):
		return 3
	}
	return 2
}

// MinorUnits converts an exact decimal to currency's minor units without rounding:
// 29.99 EUR is 2999, 1500 JPY is 1500. An amount with more digits than the currency has
// (1500.50 JPY) or too large for int64 is an error, never rounded; so is a negative one.
func MinorUnits(d value.Decimal, currency string) (int64, error) {
	if d.Units < 0 {
		return 0, fmt.Errorf("%w: %s is negative", ErrAmount, d)
	}
	e := Exponent(currency)
	switch {
	case d.Scale == e:
		return d.Units, nil
	case d.Scale < e:
		f := value.Pow10(e - d.Scale)
		if d.Units > math.MaxInt64/f {
			return 0, fmt.Errorf("%w: %s %s is too large", ErrAmount, d, currency)
		}
		return d.Units * f, nil
	}
	f := value.Pow10(d.Scale - e)
	if d.Units%f != 0 {
		return 0, fmt.Errorf("%w: %s has more decimals than %s has (%d)", ErrAmount, d, currency, e)
	}
	return d.Units / f, nil
}

// FromMinor renders minor units of currency as decimal text: 2999 EUR is "29.99".
func FromMinor(units int64, currency string) string {
	return value.FromUnits(units, Exponent(currency)).String()
}
