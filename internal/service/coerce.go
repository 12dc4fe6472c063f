package service

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// maxLinks bounds the ids one to-many field accepts in a write.
const maxLinks = 1000

// coerce turns a decoded JSON value (json.Number for numbers) into the field's Go value,
// or returns a field error code and message.
func coerce(f *spec.Field, v any) (any, string, string) {
	if v == nil {
		return nil, "", ""
	}
	switch f.Type {
	case spec.TypeInteger:
		return coerceInt(v)
	case spec.TypeNumber:
		n, ok := v.(json.Number)
		if !ok {
			return nil, "type", "must be a number"
		}
		x, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(x, 0) {
			return nil, "type", "must be a finite number"
		}
		return x, "", ""
	case spec.TypeDecimal:
		return coerceDecimal(f, v)
	case spec.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, "", ""
		}
		return nil, "type", "must be true or false"
	case spec.TypeJSON:
		if code := textProblemIn(v); code != "" {
			return nil, code, value.TextMessage(code)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, "type", "must be JSON"
		}
		return string(b), "", ""
	case spec.TypeRelation:
		return coerceRelation(f, v)
	}
	s, ok := v.(string)
	if !ok {
		return nil, "type", "must be a string"
	}
	return coerceString(f, s)
}

func coerceInt(v any) (any, string, string) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, "type", "must be a whole number"
	}
	if !jsonNumber(string(n)) { // a query's text: 0x10, 1_000, +5, 007
		return nil, "type", "must be a whole number"
	}
	x, err := strconv.ParseInt(string(n), 10, 64)
	if err == nil {
		return x, "", ""
	}
	if whole, ok := strings.CutSuffix(strings.TrimRight(string(n), "0"), "."); ok && !strings.ContainsAny(string(n), "eE") {
		n = json.Number(whole) // 1.000…0: as long as it likes
		if x, err := strconv.ParseInt(whole, 10, 64); err == nil {
			return x, "", ""
		}
	}
	// 1e3, 12.0, 4503599627370496.5: decided exactly (a float64 would round the fraction
	// away), once the magnitude is known to be an int64's: no exponent then makes the exact
	// number large.
	f, ferr := strconv.ParseFloat(string(n), 64)
	switch {
	case len(n) > maxIntText || math.Abs(f) >= 1<<64: // the exact check below decides at the edge
		return nil, "type", "must be a whole number within 64 bits"
	case ferr != nil:
		return nil, "type", "must be a whole number"
	case f == 0 && zeroDigits(string(n)): // 0.0, -0e99999999: zero, whatever its exponent
		return int64(0), "", ""
	case f == 0: // 1e-400: a nonzero number too small for a float64
		return nil, "type", "must be a whole number, not a fraction"
	}
	r, ok := new(big.Rat).SetString(string(n))
	switch {
	case !ok:
		return nil, "type", "must be a whole number"
	case !r.IsInt():
		return nil, "type", "must be a whole number, not a fraction"
	case !r.Num().IsInt64():
		return nil, "type", "must be a whole number within 64 bits"
	}
	return r.Num().Int64(), "", ""
}

// zeroDigits reports whether a JSON number's digits before its exponent are all zeros.
func zeroDigits(n string) bool {
	mant, _, _ := strings.Cut(strings.ToLower(n), "e")
	return strings.Trim(mant, "-0.") == ""
}

// maxIntText bounds the text of an integer read exactly: an int64 has 19 digits, and a body's
// number is refused past this length whatever its form.
const maxIntText = 64

func coerceDecimal(f *spec.Field, v any) (any, string, string) {
	var text string
	switch x := v.(type) {
	case json.Number:
		var ok bool
		if text, ok = plainDecimal(string(x)); !ok {
			return farDecimal(f, string(x))
		}
	case string:
		text = x
	default:
		return nil, "type", "must be a decimal number"
	}
	d, err := value.ParseDecimal(text, f.Precision, f.Scale)
	switch err {
	case nil:
		return d, "", ""
	case value.ErrScale:
		return nil, "scale", "must have at most " + digits(f.Scale) + " after the decimal point"
	case value.ErrPrecision:
		return nil, "precision", "must have at most " + digits(f.Precision-f.Scale) + " before the decimal point"
	}
	return nil, "type", "must be a decimal number such as 29.99"
}

// maxDecimalExp bounds the exponent of a decimal sent as 1e2: any field's digits (at most
// value.MaxPrecision) lie well within it, and a larger one would only write long runs of zeros.
const maxDecimalExp = 64

// plainDecimal writes a JSON number with an exponent (1e2, -2.5E-1) as plain decimal text,
// exactly, for ParseDecimal to read as it reads 100 and -0.25: integers take such numbers, so
// decimals do too. Text without an exponent is returned as it is; ok is false for text that
// is no JSON number or whose exponent is beyond maxDecimalExp.
func plainDecimal(n string) (string, bool) {
	mant, exp, found := strings.Cut(strings.ToLower(n), "e")
	if !found {
		return n, true
	}
	e, err := strconv.Atoi(exp)
	switch {
	case !jsonNumber(n):
		return "", false
	case zeroDigits(n): // 0e999: zero, whatever its exponent
		return "0", true
	case err != nil || e > maxDecimalExp || e < -maxDecimalExp:
		return "", false
	}
	sign, mant := "", strings.TrimPrefix(mant, "-")
	if strings.HasPrefix(n, "-") {
		sign = "-"
	}
	ip, fp, _ := strings.Cut(mant, ".")
	all, point := ip+fp, len(ip)+e // the point's place in all
	if point <= 0 {
		all, point = strings.Repeat("0", 1-point)+all, 1
	}
	if point >= len(all) {
		return sign + all + strings.Repeat("0", point-len(all)), true
	}
	return sign + all[:point] + "." + all[point:], true
}

// farDecimal answers a JSON number plainDecimal does not write out: one whose exponent puts
// its digits beyond any field's (1e100 has too many digits before the point, 1e-100 after
// it) is refused as precision or scale, as 1e30 and 1e-30 are; other text is no number.
func farDecimal(f *spec.Field, n string) (any, string, string) {
	mant, exp, found := strings.Cut(strings.ToLower(n), "e")
	e, err := strconv.Atoi(exp)
	if !found || err != nil || !jsonNumber(n) {
		return nil, "type", "must be a decimal number such as 29.99"
	}
	ip, fp, _ := strings.Cut(strings.TrimPrefix(mant, "-"), ".")
	all := ip + fp
	first, last := strings.IndexFunc(all, nonZero), strings.LastIndexFunc(all, nonZero)
	point := len(ip) + e // the point's place in all: digits before it are whole
	switch {
	case point-first > f.Precision-f.Scale:
		return nil, "precision", "must have at most " + digits(f.Precision-f.Scale) + " before the decimal point"
	case last+1-point > f.Scale:
		return nil, "scale", "must have at most " + digits(f.Scale) + " after the decimal point"
	}
	return nil, "type", "must be a decimal number such as 29.99"
}

func nonZero(r rune) bool { return r >= '1' && r <= '9' }

// digits is "1 digit" or "n digits".
func digits(n int) string {
	if n == 1 {
		return "1 digit"
	}
	return strconv.Itoa(n) + " digits"
}

func coerceString(f *spec.Field, s string) (any, string, string) {
	if code := value.TextProblem(s); code != "" {
		return nil, code, value.TextMessage(code)
	}
	switch f.Type {
	case spec.TypeEmail:
		if !value.IsEmail(s) {
			return nil, "format", "must be an email address"
		}
		return strings.ToLower(s), "", "" // one account per address, whatever its case
	case spec.TypeURL:
		if !value.IsWebURL(s) {
			return nil, "format", "must be an http or https URL"
		}
	case spec.TypeUUID:
		u, err := uuid.Parse(s)
		if err != nil {
			return nil, "format", "must be a UUID"
		}
		return u.String(), "", ""
	case spec.TypeDate:
		if _, err := value.ParseDate(s); err != nil {
			return nil, "format", "must be a date like 2026-01-31, in the years 1 to 9999"
		}
	case spec.TypeDatetime:
		t, err := value.ParseInput(s)
		if err != nil {
			return nil, "format", "must be an RFC 3339 date-time like 2026-01-31T12:00:00Z, in the years 1 to 9999 (UTC)"
		}
		return t, "", ""
	case spec.TypeEnum:
		for _, allowed := range f.Values {
			if s == allowed {
				return s, "", ""
			}
		}
		return nil, "enum", "must be one of: " + strings.Join(f.Values, ", ")
	}
	return s, "", ""
}

func coerceRelation(f *spec.Field, v any) (any, string, string) {
	if f.Relation.Kind != spec.RelToMany {
		s, ok := v.(string)
		if !ok {
			return nil, "type", "must be the id of a " + f.Relation.To + " record"
		}
		u, err := uuid.Parse(s)
		if err != nil {
			return nil, "format", "must be a UUID"
		}
		return u.String(), "", ""
	}
	items, ok := v.([]any)
	if !ok {
		return nil, "type", "must be an array of " + f.Relation.To + " ids"
	}
	if len(items) > maxLinks {
		return nil, "max_items", "must have at most " + strconv.Itoa(maxLinks) + " ids"
	}
	ids := make([]string, 0, len(items))
	seen := map[string]bool{}
	for _, it := range items {
		s, _ := it.(string)
		u, err := uuid.Parse(s)
		if err != nil {
			return nil, "format", "must contain only UUIDs"
		}
		if !seen[u.String()] {
			seen[u.String()] = true
			ids = append(ids, u.String())
		}
	}
	return ids, "", ""
}

// textProblemIn finds the first text problem in the keys and strings of a JSON value
// (PostgreSQL's jsonb refuses \u0000 too).
func textProblemIn(v any) string {
	switch x := v.(type) {
	case string:
		return value.TextProblem(x)
	case []any:
		for _, item := range x {
			if code := textProblemIn(item); code != "" {
				return code
			}
		}
	case map[string]any:
		for k, item := range x {
			if code := value.TextProblem(k); code != "" {
				return code
			}
			if code := textProblemIn(item); code != "" {
				return code
			}
		}
	}
	return ""
}

// validID reports whether s can be a record id.
func validID(s string) (string, bool) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", false
	}
	return u.String(), true
}
