package service

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// A decimal sent as a JSON number with an exponent is read exactly, as an integer's is: 1e2
// is 100; what does not fit the field is refused for the digits it has, not for its form.
func TestDecimalWithAnExponentIsReadExactly(t *testing.T) {
	f := &spec.Field{Name: "price", Type: spec.TypeDecimal, Precision: 6, Scale: 2}
	for text, want := range map[string]int64{
		"1e2": 10000, "1E2": 10000, "2.5e-1": 25, "1.234e1": 1234, "-1.5e+2": -15000,
		"12345e-2": 12345, "0e99": 0, "0.000012e6": 1200, "9999.99e0": 999999,
	} {
		got, code, msg := coerceDecimal(f, json.Number(text))
		require.Empty(t, code, "%s: %s", text, msg)
		require.Equal(t, value.Decimal{Units: want, Scale: 2}, got, text)
	}
	for text, wantCode := range map[string]string{
		"1e-3": "scale", "1.23456e2": "scale", "1e4": "precision", "1e30": "precision",
		"1e100": "precision", "-1e100": "precision", "1e-100": "scale", "1000e-67": "scale",
		"1e999999999": "precision", "1e-999999999": "scale", "1e99999999999999999999": "type",
		"1e": "type", "e5": "type", "1.e2": "type",
	} {
		_, code, _ := coerceDecimal(f, json.Number(text))
		require.Equal(t, wantCode, code, text)
	}
	_, code, _ := coerceDecimal(f, "1e2")
	require.Equal(t, "type", code, "a decimal sent as a string is plain text, as before")
}
