package migrate

import (
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// convertOne runs conv on v in SQLite: the converted value, or refused when a refusal holds.
func convertOne(t *testing.T, db *sql.DB, conv sqliteConv, v any) (out any, refused bool) {
	t.Helper()
	for _, r := range conv.refuse {
		var hit sql.NullBool
		require.NoError(t, db.QueryRow(`SELECT `+r.when+` FROM (SELECT ? AS "x")`, v).Scan(&hit))
		if hit.Valid && hit.Bool {
			return nil, true
		}
	}
	require.NoError(t, db.QueryRow(`SELECT `+conv.expr+` FROM (SELECT ? AS "x")`, v).Scan(&out))
	return out, false
}

func openMemory(t *testing.T) *sql.DB {
	db, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// unitsOracle is PostgreSQL's numeric input of a decimal string, at scale s into precision p:
// rounded half away from zero, ok false past the precision.
func unitsOracle(dec string, p, s int) (int64, bool) {
	r, ok := new(big.Rat).SetString(dec)
	if !ok {
		panic(dec)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil)))
	half := big.NewRat(1, 2)
	if r.Sign() < 0 {
		half.Neg(half)
	}
	r.Add(r, half)
	q := new(big.Int).Quo(r.Num(), r.Denom()) // truncates toward zero
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)
	if new(big.Int).Abs(q).Cmp(limit) >= 0 {
		return 0, false
	}
	return q.Int64(), true
}

// A number becomes a decimal from its 15 significant digits (PostgreSQL's float8::numeric),
// held to an oracle over random floats of every magnitude.
func TestRealToDecimalMatchesOracle(t *testing.T) {
	t.Parallel()
	db := openMemory(t)
	rng := rand.New(rand.NewPCG(1, 2))
	seeds := []float64{2.675, -2.675, 0, 0.005, -0.005, 1e11, 9999999999.995, 1e-300, 123456789012.345, math.MaxFloat64, 5e-324}
	for range 400 {
		seeds = append(seeds, (rng.Float64()-0.5)*math.Pow(10, float64(rng.IntN(30)-14)))
	}
	for _, shape := range [][2]int{{12, 2}, {18, 4}, {18, 0}, {5, 5}, {18, 18}} {
		conv := realToDecimal(`"x"`, shape[0], shape[1])
		for _, x := range seeds {
			want, ok := unitsOracle(strconv.FormatFloat(x, 'e', 14, 64), shape[0], shape[1])
			got, refused := convertOne(t, db, conv, x)
			require.Equal(t, !ok, refused, "%v into decimal%v", x, shape)
			if ok {
				require.Equal(t, want, got, "%v into decimal%v", x, shape)
			}
		}
	}
}

var plainDecimal = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$`)

// Text becomes a decimal exactly when it is plain decimal notation, refused otherwise.
func TestTextToDecimalMatchesOracle(t *testing.T) {
	t.Parallel()
	db := openMemory(t)
	rng := rand.New(rand.NewPCG(3, 4))
	seeds := []string{"2.675", " -12.345 ", "+.5", "5.", "0", "-0.004", "000123.4500", "99.995", "12,5", "1e3", ".", "", "+", "-", "- 5", "1.2.3", "abc", "\t7\n", "99999999999999999999"}
	for range 400 {
		d := strconv.FormatInt(rng.Int64N(1e12)-5e11, 10)
		k := rng.IntN(len(d))
		seeds = append(seeds, d[:k]+"."+d[k:])
	}
	for _, shape := range [][2]int{{12, 2}, {4, 2}, {18, 0}, {10, 5}} {
		conv := textToDecimal(`"x"`, shape[0], shape[1])
		for _, s := range seeds {
			got, refused := convertOne(t, db, conv, s)
			plain := strings.Trim(s, " \t\n")
			if !plainDecimal.MatchString(plain) {
				require.True(t, refused, "%q is not plain notation", s)
				continue
			}
			want, ok := unitsOracle(plain, shape[0], shape[1])
			require.Equal(t, !ok, refused, "%q into decimal%v", s, shape)
			if ok {
				require.Equal(t, want, got, "%q into decimal%v", s, shape)
			}
		}
	}
}

// Text becomes an integer or a boolean by PostgreSQL's input rules.
func TestTextToIntegerAndBoolean(t *testing.T) {
	t.Parallel()
	db := openMemory(t)
	ints := map[string]any{" 42 ": int64(42), "-7": int64(-7), "+0005": int64(5), "-9223372036854775808": int64(math.MinInt64),
		"9223372036854775807": int64(math.MaxInt64), "9223372036854775808": nil, "00000000000000000000042": int64(42),
		"abc": nil, "": nil, "1e3": nil, "1.0": nil, "- 1": nil, "0x1F": nil, "1_000": nil, "+": nil}
	for in, want := range ints {
		got, refused := convertOne(t, db, textToInteger(`"x"`), in)
		require.Equal(t, want == nil, refused, "%q", in)
		if want != nil {
			require.Equal(t, want, got, "%q", in)
		}
	}
	bools := map[string]any{"true": int64(1), " YES ": int64(1), "t": int64(1), "Tru": int64(1), "on": int64(1), "1": int64(1), "y": int64(1),
		"false": int64(0), "off": int64(0), "N": int64(0), "no": int64(0), "0": int64(0), "fal": int64(0),
		"maybe": nil, "": nil, "o": nil, "of": nil, "yess": nil, "2": nil, "truee": nil}
	for in, want := range bools {
		got, refused := convertOne(t, db, textToBoolean(`"x"`), in)
		require.Equal(t, want == nil, refused, "%q", in)
		if want != nil {
			require.Equal(t, want, got, "%q", in)
		}
	}
	for in, want := range map[float64]any{2.5: int64(2), 3.5: int64(4), -2.5: int64(-2), -3.5: int64(-4), 2.7: int64(3), -2.7: int64(-3),
		0.49999999999999994: int64(0), 9.2e18: int64(9.2e18), 1e19: nil, -1e19: nil} {
		got, refused := convertOne(t, db, realToInteger(`"x"`), in)
		require.Equal(t, want == nil, refused, "%v", in)
		if want != nil {
			require.Equal(t, want, got, fmt.Sprint(in))
		}
	}
}

// Text becomes a number, date or datetime in the forms listed; every other text is refused.
func TestTextToRealDateAndTimestamp(t *testing.T) {
	t.Parallel()
	db := openMemory(t)
	check := func(conv sqliteConv, cases map[string]any) {
		t.Helper()
		for in, want := range cases {
			got, refused := convertOne(t, db, conv, in)
			require.Equal(t, want == nil, refused, "%q", in)
			if want != nil {
				require.Equal(t, want, got, "%q", in)
			}
		}
	}
	check(textToReal(`"x"`), map[string]any{" 1e3 ": 1000.0, "-.5": -0.5, "5.": 5.0, "+2.5E-1": 0.25, "0e5": 0.0, "1e-400": nil, "1e400": nil,
		"NaN": nil, "Infinity": nil, ".e1": nil, "1e": nil, "1e+": nil, "1.2.3": nil, "0x10": nil, "": nil, "12 kg": nil})
	check(textToDate(`"x"`), map[string]any{" 2024-02-29 ": "2024-02-29", "2026-02-29": nil, "2026-1-1": nil, "2026-01-01T00:00:00Z": nil, "now": nil, "": nil})
	check(textToTimestamp(`"x"`), map[string]any{
		"2026-01-01T10:00:59.999999Z":      "2026-01-01T10:00:59.999999Z", // not rounded into the next second
		"2026-01-01T23:30:00.5-05:00":      "2026-01-02T04:30:00.500000Z",
		"2026-01-01 10:00":                 "2026-01-01T10:00:00.000000Z",
		"2026-03-04":                       "2026-03-04T00:00:00.000000Z",
		"2026-01-01T10:00:00.1234567Z":     nil, // past microseconds
		"2026-01-01T10:00:00.Z":            nil,
		"2026-01-01T10:00:00Zjunk":         nil,
		"2026-02-30T10:00:00Z":             nil,
		"2026-01-01Tjunk":                  nil,
		"2460000.5":                        nil, // a Julian day number SQLite would read
		"now":                              nil,
		"2026-01-01T25:00:00Z":             nil,
		"2026-01-01T10:00:00.123456+05:00": "2026-01-01T05:00:00.123456Z",
	})
}

// A number becomes the text PostgreSQL's float8::text gives: Go's shortest digits, in exponent
// form below 1e-4 and from 1e15; one that needs 17 digits, or is subnormal, is refused.
func TestRealToTextMatchesOracle(t *testing.T) {
	t.Parallel()
	db := openMemory(t)
	rng := rand.New(rand.NewPCG(5, 6))
	seeds := []float64{100, 1e20, 0.1 + 0.2, 1e15, 1e14, 1234567890123456.7, 1e-5, 1e-4, 2.675, 123456789012345.6, 1.5e300, -2.5,
		999999999999999.9, 2.2250738585072014e-308, math.MaxFloat64, 5e-324}
	for range 400 {
		x := (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(40)-20))
		if rng.IntN(4) > 0 { // mostly the short decimals people type
			x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', 1+rng.IntN(16), 64), 64)
		}
		seeds = append(seeds, x)
	}
	conv := convertSQLite("x", "real", "text")
	for _, x := range seeds {
		want := strconv.FormatFloat(x, 'f', -1, 64)
		if a := math.Abs(x); a >= 1e15 || a < 1e-4 {
			want = strconv.FormatFloat(x, 'e', -1, 64)
		}
		digits := len(strings.TrimLeft(strings.ReplaceAll(strings.Split(strconv.FormatFloat(math.Abs(x), 'e', -1, 64), "e")[0], ".", ""), "0"))
		got, refused := convertOne(t, db, conv, x)
		if digits == 17 || math.Abs(x) < 2.2250738585072014e-308 {
			require.True(t, refused, "%v", x)
			continue
		}
		require.False(t, refused, "%v", x)
		require.Equal(t, want, got, "%v", x)
	}
}
