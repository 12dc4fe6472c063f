// Package value holds Kiln's typed field values that need exact handling: decimals kept as
// integers of minor units (never floats) and the fixed timestamp formats records use.
package value

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxPrecision is the most decimal digits a decimal field may declare: minor units fit an int64.
const MaxPrecision = 18

// Decimal is an exact decimal: Units minor units at Scale digits after the point.
type Decimal struct {
	Units int64
	Scale int
}

// ErrScale means a decimal has more fraction digits than its field allows.
var ErrScale = errors.New("too many digits after the decimal point")

// ErrPrecision means a decimal has more digits than its field allows.
var ErrPrecision = errors.New("too many digits")

var pow10 = func() [MaxPrecision + 1]int64 {
	var p [MaxPrecision + 1]int64
	p[0] = 1
	for i := 1; i <= MaxPrecision; i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// ParseDecimal parses plain decimal text ("-12.50", "3", "1e2" is rejected) at the given
// scale and precision. Trailing zeros beyond the scale are accepted; other extra digits are not.
func ParseDecimal(s string, precision, scale int) (Decimal, error) {
	if precision <= 0 || precision > MaxPrecision || scale < 0 || scale > precision {
		return Decimal{}, fmt.Errorf("bad decimal shape (%d,%d)", precision, scale)
	}
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(body, ".")
	if intPart == "" || !digits(intPart) || (frac != "" && !digits(frac)) || strings.HasSuffix(body, ".") {
		return Decimal{}, fmt.Errorf("%q is not a decimal number", s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > scale {
		return Decimal{}, ErrScale
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > precision-scale {
		return Decimal{}, ErrPrecision
	}
	frac += strings.Repeat("0", scale-len(frac))
	units, err := strconv.ParseInt(cmpOr(intPart+frac, "0"), 10, 64)
	if err != nil {
		return Decimal{}, ErrPrecision
	}
	if neg {
		units = -units
	}
	return Decimal{Units: units, Scale: scale}, nil
}

func cmpOr(s, def string) string {
	if strings.Trim(s, "0") == "" {
		return def
	}
	return s
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// String renders the decimal with exactly Scale fraction digits trimmed of trailing zeros,
// keeping at least one digit before the point: 2999 at scale 2 is "29.99", 3000 is "30".
func (d Decimal) String() string { return string(d.Append(nil)) }

// Append appends String's text to dst without allocating on the way (the JSON encoder writes
// every decimal of every record with it).
func (d Decimal) Append(dst []byte) []byte {
	var abs uint64
	if d.Units < 0 {
		dst = append(dst, '-')
		abs = uint64(-(d.Units + 1)) + 1 // safe for MinInt64
	} else {
		abs = uint64(d.Units)
	}
	var buf [20]byte
	digits := strconv.AppendUint(buf[:0], abs, 10)
	if d.Scale <= 0 {
		return append(dst, digits...)
	}
	whole := len(digits) - d.Scale // digits before the point; zeros follow it when negative
	frac := digits
	if whole > 0 {
		dst, frac = append(dst, digits[:whole]...), digits[whole:]
	} else {
		dst = append(dst, '0')
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(frac) == 0 {
		return dst
	}
	dst = append(dst, '.')
	for ; whole < 0; whole++ {
		dst = append(dst, '0')
	}
	return append(dst, frac...)
}

// Float returns the nearest float64, for display and CEL evaluation only.
func (d Decimal) Float() float64 {
	return float64(d.Units) / math.Pow10(d.Scale)
}

// Cmp compares two decimals of the same scale.
func (d Decimal) Cmp(o Decimal) int {
	switch {
	case d.Units < o.Units:
		return -1
	case d.Units > o.Units:
		return 1
	}
	return 0
}

// Fits reports whether d has at most precision-scale digits before the point, as a
// decimal(precision, scale) column holds them (the digits after it are the field's scale's).
func (d Decimal) Fits(precision, scale int) bool {
	abs := uint64(d.Units)
	if d.Units < 0 {
		abs = uint64(-(d.Units + 1)) + 1 // safe for MinInt64
	}
	return abs/uint64(pow10[d.Scale]) < uint64(pow10[precision-scale])
}

// FromUnits builds a decimal from stored minor units.
func FromUnits(units int64, scale int) Decimal { return Decimal{Units: units, Scale: scale} }

// Rescale parses s at scale, ignoring precision, for comparisons against bounds and filters.
// Values with more fraction digits than scale are rounded toward zero and report inexact.
func Rescale(s string, scale int) (d Decimal, exact bool, err error) {
	d, err = ParseDecimal(s, MaxPrecision, scale)
	if errors.Is(err, ErrScale) {
		intPart, frac, _ := strings.Cut(s, ".")
		d, err = ParseDecimal(strings.TrimSuffix(intPart+"."+frac[:scale], "."), MaxPrecision, scale) // scale 0: no point
		return d, false, err
	}
	return d, err == nil, err
}

// Pow10 returns 10^n for 0 <= n <= MaxPrecision.
func Pow10(n int) int64 { return pow10[n] }
