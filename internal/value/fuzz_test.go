package value

import (
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
)

var plainDecimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// FuzzParseDecimal holds ParseDecimal and Rescale to math/big: a decimal is accepted exactly
// when its value needs at most scale fraction digits and precision-scale integer digits, and
// then its units are the value times 10^scale, and its text reads back as the same value.
// Rescale truncates toward zero and says when it did.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"29.99", "-0.5", "007.100", "1e2", "0.001", "999999999999999999", "-", "1.", ".5", "+1", "-0"} {
		f.Add(s, 12, 2)
	}
	f.Fuzz(func(t *testing.T, s string, precision, scale int) {
		precision, scale = 1+abs(precision)%MaxPrecision, abs(scale)%(MaxPrecision+1)
		if scale > precision {
			scale = precision
		}
		d, err := ParseDecimal(s, precision, scale)
		want, ok := referenceDecimal(s, precision, scale)
		if ok != (err == nil) {
			t.Fatalf("ParseDecimal(%q, %d, %d) = %v, %v; math/big says accepted=%v", s, precision, scale, d, err, ok)
		}
		if !ok {
			return
		}
		if d.Scale != scale || big.NewInt(d.Units).Cmp(want) != 0 {
			t.Fatalf("ParseDecimal(%q, %d, %d) = %d units, math/big %s", s, precision, scale, d.Units, want)
		}
		back, ok2 := new(big.Rat).SetString(d.String())
		orig, _ := new(big.Rat).SetString(s)
		if !ok2 || back.Cmp(orig) != 0 {
			t.Fatalf("%q printed as %q", s, d.String())
		}
		r, exact, err := Rescale(s, scale)
		if err != nil || !exact || r != d {
			t.Fatalf("Rescale(%q, %d) = %v, %v, %v; ParseDecimal gave %v", s, scale, r, exact, err, d)
		}
	})
}

// referenceDecimal is what math/big says ParseDecimal must do: the units when accepted.
func referenceDecimal(s string, precision, scale int) (*big.Int, bool) {
	if !plainDecimal.MatchString(s) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, false
	}
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !scaled.IsInt() {
		return nil, false // more fraction digits than the scale
	}
	whole := new(big.Int).Quo(new(big.Int).Abs(r.Num()), r.Denom())
	if whole.Sign() > 0 && len(whole.String()) > precision-scale {
		return nil, false // more integer digits than precision-scale
	}
	return scaled.Num(), true
}

// FuzzRescale: values with more fraction digits than the scale are truncated toward zero, as
// math/big's truncated quotient is, and reported inexact.
func FuzzRescale(f *testing.F) {
	for _, s := range []string{"1.239", "-1.239", "0.001", "12", "-0.0001", "5.50"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, scale int) {
		scale = abs(scale) % 7
		d, exact, err := Rescale(s, scale)
		if !plainDecimal.MatchString(s) || len(strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")) > 17 {
			if err == nil && !plainDecimal.MatchString(s) {
				t.Fatalf("Rescale(%q) accepted text that is no decimal: %v", s, d)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrPrecision) {
				t.Fatalf("Rescale(%q, %d): %v", s, scale, err)
			}
			return
		}
		r, _ := new(big.Rat).SetString(s)
		scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
		trunc := new(big.Int).Quo(scaled.Num(), scaled.Denom()) // Quo truncates toward zero
		if big.NewInt(d.Units).Cmp(trunc) != 0 || exact != scaled.IsInt() {
			t.Fatalf("Rescale(%q, %d) = %d units (exact %v), math/big %s (exact %v)", s, scale, d.Units, exact, trunc, scaled.IsInt())
		}
	})
}

// FuzzParseTime holds ParseTime to time.Parse(time.RFC3339Nano): it accepts exactly what
// time.Parse accepts (its fast path for the stored form included), gives the same instant
// in UTC cut to microseconds, and FormatTime's text parses back to it.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-01-02T12:00:00.000000Z", "2026-01-02T12:00:00Z", "2026-02-30T00:00:00.000000Z",
		"2026-01-02T12:00:00.1234567+02:00", "0000-01-01T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "2026-01-02 12:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		ref, refErr := time.Parse(time.RFC3339Nano, s)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("ParseTime(%q) = %v, %v; time.Parse: %v, %v", s, got, err, ref, refErr)
		}
		if err != nil {
			return
		}
		want := ref.UTC().Truncate(time.Microsecond)
		if !got.Equal(want) || got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
			t.Fatalf("ParseTime(%q) = %v, time.Parse %v", s, got, want)
		}
		if got.Year() >= 0 && got.Year() <= 9999 {
			if again, err := ParseTime(FormatTime(got)); err != nil || !again.Equal(got) {
				t.Fatalf("%q: FormatTime %q parsed back as %v, %v", s, FormatTime(got), again, err)
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		if n == -n { // MinInt
			return 0
		}
		return -n
	}
	return n
}
