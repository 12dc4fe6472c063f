package service

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// Bounds with more fraction digits than a decimal field keeps: a field of whole units with
// min 0.5 failed to start ("0." is not a decimal number); and bounds were cut toward zero,
// so 0.00 passed min 0.005 and max -0.005. Values at the field's scale now meet such a min
// from the next unit up and such a max from the unit below.
func TestDecimalBoundsFinerThanTheScale(t *testing.T) {
	t.Parallel()
	text := func(s string) *string { return &s }
	for _, tt := range []struct {
		scale         int
		min, max      *string
		ok, refused   []int64 // units at the field's scale
		refusedByCode string
	}{
		{scale: 0, min: text("0.5"), ok: []int64{1, 7}, refused: []int64{0, -1}, refusedByCode: "min"},
		{scale: 2, min: text("0.005"), ok: []int64{1}, refused: []int64{0}, refusedByCode: "min"},
		{scale: 2, min: text("-0.005"), ok: []int64{0}, refused: []int64{-1}, refusedByCode: "min"},
		{scale: 2, max: text("-0.005"), ok: []int64{-1}, refused: []int64{0}, refusedByCode: "max"},
		{scale: 2, max: text("0.005"), ok: []int64{0}, refused: []int64{1}, refusedByCode: "max"},
		{scale: 2, min: text("1.50"), ok: []int64{150}, refused: []int64{149}, refusedByCode: "min"},
	} {
		f := &spec.Field{Name: "qty", Type: spec.TypeDecimal, Precision: 10, Scale: tt.scale, Min: tt.min, Max: tt.max}
		r, err := compileRules(f)
		require.NoError(t, err, "scale %d, min %v, max %v", tt.scale, tt.min, tt.max)
		for _, u := range tt.ok {
			code, _ := r.check(f, value.FromUnits(u, tt.scale))
			require.Empty(t, code, "%d units at scale %d", u, tt.scale)
		}
		for _, u := range tt.refused {
			code, _ := r.check(f, value.FromUnits(u, tt.scale))
			require.Equal(t, tt.refusedByCode, code, "%d units at scale %d", u, tt.scale)
		}
	}
}

// A decimal with too many digits is told how many it may have, in the singular for one.
func TestDecimalDigitMessages(t *testing.T) {
	t.Parallel()
	f := &spec.Field{Name: "rate", Type: spec.TypeDecimal, Precision: 2, Scale: 1}
	for in, want := range map[string][2]string{
		"1.25": {"scale", "must have at most 1 digit after the decimal point"},
		"12.5": {"precision", "must have at most 1 digit before the decimal point"},
	} {
		_, code, msg := coerce(f, json.Number(in))
		require.Equal(t, want, [2]string{code, msg}, in)
	}
	f = &spec.Field{Name: "price", Type: spec.TypeDecimal, Precision: 6, Scale: 2}
	_, _, msg := coerce(f, json.Number("1.234"))
	require.Equal(t, "must have at most 2 digits after the decimal point", msg)
}

// An integer field told a fraction says so; a number past 64 bits says that.
func TestIntegerMessages(t *testing.T) {
	t.Parallel()
	f := &spec.Field{Name: "seats", Type: spec.TypeInteger}
	for in, want := range map[string]string{
		"12.5":                               "must be a whole number, not a fraction",
		"1e3":                                "",
		"99999999999999999999":               "must be a whole number within 64 bits",
		"-1.5e2":                             "",
		"123456789012345678.25":              "must be a whole number, not a fraction",
		"4503599627370496.5":                 "must be a whole number, not a fraction",
		"9.5e15":                             "",
		"1e-400":                             "must be a whole number, not a fraction",
		"1e400":                              "must be a whole number within 64 bits",
		"0e999999999":                        "",
		"9223372036854775807.0":              "",
		"9223372036854775808.0":              "must be a whole number within 64 bits",
		"1." + strings.Repeat("0", 70):       "",
		"0." + strings.Repeat("0", 70):       "",
		"7." + strings.Repeat("0", 69) + "1": "must be a whole number within 64 bits",
		"0x10":                               "must be a whole number",
		"1_000":                              "must be a whole number",
		"+5":                                 "must be a whole number",
		"007":                                "must be a whole number",
		"-0":                                 "",
	} {
		_, _, msg := coerce(f, json.Number(in))
		require.Equal(t, want, msg, in)
	}
	v, _, _ := coerce(f, json.Number("9223372036854775807.0"))
	require.Equal(t, int64(9223372036854775807), v)
	v, _, _ = coerce(f, json.Number("12.000"))
	require.Equal(t, int64(12), v)
}
