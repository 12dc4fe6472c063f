package value

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		precision int
		scale     int
		units     int64
		out       string
		wantErr   bool
	}{
		{in: "29.99", precision: 10, scale: 2, units: 2999, out: "29.99"},
		{in: "30", precision: 10, scale: 2, units: 3000, out: "30"},
		{in: "30.10", precision: 10, scale: 2, units: 3010, out: "30.1"},
		{in: "-0.05", precision: 10, scale: 2, units: -5, out: "-0.05"},
		{in: "0.001", precision: 10, scale: 2, wantErr: true},
		{in: "1.230", precision: 10, scale: 2, units: 123, out: "1.23"},
		{in: "123456789", precision: 10, scale: 2, wantErr: true},
		{in: "1e2", precision: 10, scale: 2, wantErr: true},
		{in: "", precision: 10, scale: 2, wantErr: true},
		{in: "1.", precision: 10, scale: 2, wantErr: true},
		{in: "999999999999999999", precision: 18, scale: 0, units: 999999999999999999, out: "999999999999999999"},
	}
	for _, tt := range tests {
		d, err := ParseDecimal(tt.in, tt.precision, tt.scale)
		if tt.wantErr {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.units, d.Units, tt.in)
		require.Equal(t, tt.out, d.String(), tt.in)
	}
}

// Fits agrees with ParseDecimal on the digits before the point, for values of either sign at
// the field's scale, and at the edge of an int64.
func TestDecimalFits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d                Decimal
		precision, scale int
		want             bool
	}{
		{d: Decimal{Units: 9999, Scale: 2}, precision: 4, scale: 2, want: true},
		{d: Decimal{Units: 10000, Scale: 2}, precision: 4, scale: 2, want: false},
		{d: Decimal{Units: -9999, Scale: 2}, precision: 4, scale: 2, want: true},
		{d: Decimal{Units: -10000, Scale: 2}, precision: 4, scale: 2, want: false},
		{d: Decimal{Units: 99, Scale: 2}, precision: 2, scale: 2, want: true},
		{d: Decimal{Units: 100, Scale: 2}, precision: 2, scale: 2, want: false},
		{d: Decimal{Units: math.MaxInt64, Scale: 0}, precision: 18, scale: 0, want: false},
		{d: Decimal{Units: math.MinInt64, Scale: 0}, precision: 18, scale: 0, want: false},
		{d: Decimal{Units: 999999999999999999, Scale: 0}, precision: 18, scale: 0, want: true},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.d.Fits(tt.precision, tt.scale), "%d at (%d,%d)", tt.d.Units, tt.precision, tt.scale)
		if tt.d.Units != math.MinInt64 {
			_, err := ParseDecimal(tt.d.String(), tt.precision, tt.scale)
			require.Equal(t, tt.want, err == nil, tt.d.String())
		}
	}
}

func TestParseTimeFastPathAgreesWithLayout(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"2026-11-26T05:48:28.769766Z", "2024-02-29T23:59:59.000001Z", "2026-02-30T00:00:00.000000Z",
		"2026-13-01T00:00:00.000000Z", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00"} {
		got, err := ParseTime(s)
		want, werr := time.Parse(time.RFC3339Nano, s)
		require.Equal(t, werr == nil, err == nil, s)
		if err == nil {
			require.True(t, want.Equal(got), s)
			require.Equal(t, time.UTC, got.Location())
		}
	}
}

func TestRescale(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in    string
		scale int
		units int64
		exact bool
	}{
		{in: "1.239", scale: 2, units: 123},
		{in: "-1.239", scale: 2, units: -123},
		{in: "5.50", scale: 1, units: 55, exact: true},
		{in: "0.1", scale: 0, units: 0}, // found by FuzzRescale: at scale 0 this was the text "0.", refused
		{in: "-7.9", scale: 0, units: -7},
		{in: "12", scale: 0, units: 12, exact: true},
	} {
		d, exact, err := Rescale(tt.in, tt.scale)
		require.NoError(t, err, tt.in)
		require.Equal(t, Decimal{Units: tt.units, Scale: tt.scale}, d, tt.in)
		require.Equal(t, tt.exact, exact, tt.in)
	}
}

func TestFormatTimeAgreesWithLayout(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("x", -(9*3600 + 30*60))
	times := []time.Time{
		time.Date(2026, 11, 26, 5, 48, 28, 769766999, time.UTC), time.Date(2024, 2, 29, 23, 59, 59, 1000, zone),
		time.Date(0, 1, 1, 0, 0, 0, 999, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, zone), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(9999, 12, 31, 23, 0, 0, 0, zone),
		time.Date(10000, 1, 1, 0, 0, 0, 5000, time.UTC), time.Date(-1, 6, 1, 12, 0, 0, 123456789, time.UTC), {},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		times = append(times, time.Unix(r.Int64N(400_000_000_000)-62_000_000_000, r.Int64N(1_000_000_000)).In(zone))
	}
	for _, tm := range times {
		want := tm.UTC().Truncate(time.Microsecond).Format(TimeLayout)
		require.Equal(t, want, FormatTime(tm), "%v", tm)
		require.Equal(t, "x"+want, string(AppendTime([]byte("x"), tm)))
	}
}

// TestDecimalTextMatchesMathBig holds String (and Append, which it is) to math/big's exact
// rendering, trailing fraction zeros trimmed, for edge and random units at every scale.
func TestDecimalTextMatchesMathBig(t *testing.T) {
	t.Parallel()
	units := []int64{0, 1, -1, 9, -9, 10, -10, 100, 101, -1000, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		units = append(units, rng.Int64()>>rng.IntN(63), -(rng.Int64() >> rng.IntN(63)))
	}
	for _, u := range units {
		for scale := 0; scale <= MaxPrecision; scale++ {
			want := new(big.Rat).SetFrac(big.NewInt(u), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)).FloatString(scale)
			if strings.Contains(want, ".") {
				want = strings.TrimRight(strings.TrimRight(want, "0"), ".")
			}
			d := Decimal{Units: u, Scale: scale}
			require.Equal(t, want, d.String(), "%d at scale %d", u, scale)
			require.Equal(t, "x"+want, string(d.Append([]byte("x"))))
		}
	}
}
