package example

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/spec"
)

// chooser makes the choices a regular expression leaves open while generating a match.
type chooser interface {
	rune(ranges []rune) rune
	index(n int) int // which alternative
	extra() int      // how many repetitions beyond the minimum
}

// first always takes the simplest choice: short, readable, the same every time.
type first struct{}

func (first) rune(ranges []rune) rune { return pickRune(ranges) }
func (first) index(int) int           { return 0 }
func (first) extra() int              { return 0 }

// randomly takes random choices among printable ASCII characters.
type randomly struct{ r *rand.Rand }

func (c randomly) rune(ranges []rune) rune {
	var ascii []rune
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := max(ranges[i], '!'); r <= min(ranges[i+1], '~'); r++ {
			ascii = append(ascii, r)
		}
	}
	if len(ascii) == 0 {
		return pickRune(ranges)
	}
	return ascii[c.r.IntN(len(ascii))]
}

func (c randomly) index(n int) int { return c.r.IntN(n) }
func (c randomly) extra() int      { return c.r.IntN(8) }

// Random is a random valid value of a text field, as text: unique fields whose pattern has no
// room for a run's unique digits get one this way. A pattern is matched with random choices
// (within the length bounds); other fields get random digits.
func Random(f *spec.Field, r *rand.Rand) string {
	if f.Pattern != "" {
		re, err1 := regexp.Compile(f.Pattern)
		parsed, err2 := syntax.Parse(f.Pattern, syntax.Perl)
		if err1 == nil && err2 == nil {
			for range 50 {
				var b strings.Builder
				gen(&b, parsed.Simplify(), randomly{r})
				if s := b.String(); re.MatchString(s) && withinMin(f, s) && withinMax(f, s) {
					return s
				}
			}
		}
		return fromPattern(f.Pattern)
	}
	digits := strconv.FormatUint(1e11+r.Uint64()%9e11, 10) // twelve digits
	switch f.Type {                                        // an address, not "Example email 6971…" (a trial: every test account refused)
	case spec.TypeEmail:
		return fit(f, "example-"+digits+"@example.com")
	case spec.TypeURL:
		return fit(f, "https://example.com/"+digits)
	}
	if f.MaxLength != nil && *f.MaxLength < len(digits) {
		digits = digits[:max(*f.MaxLength, 0)]
	}
	return text(f, digits)
}

func withinMin(f *spec.Field, s string) bool {
	return f.MinLength == nil || len([]rune(s)) >= *f.MinLength
}

// CarriesUnique reports whether Value of f, given a unique text, includes it; when it does
// not, values of a unique field repeat and callers should use Random instead.
func CarriesUnique(f *spec.Field, unique string) bool {
	if f.Relation != nil {
		return true
	}
	switch f.Type {
	case spec.TypeString, spec.TypeText, spec.TypeEmail, spec.TypeURL:
		s, _ := Value(f, Vars{Unique: unique}).(string)
		return strings.Contains(s, unique)
	}
	return false
}

// RandomTyped is a random valid value of f as a decoded JSON value: text as Random, integers,
// numbers and decimals as json.Number within min/max, dates and date-times in 1000–9999. It
// keeps unique fields of those types unique across the records of a test run.
func RandomTyped(f *spec.Field, r *rand.Rand) any {
	switch f.Type {
	case spec.TypeInteger:
		lo, hi := bounds(f, 1, 1e9)
		return json.Number(strconv.FormatInt(int64(lo)+r.Int64N(int64(hi-lo)+1), 10))
	case spec.TypeNumber, spec.TypeDecimal:
		lo, hi := bounds(f, 0, 1e6)
		x := lo + r.Float64()*(hi-lo)
		scale := 2
		if f.Type == spec.TypeDecimal {
			scale = f.Scale
			if f.Precision > 0 {
				x = min(x, math.Pow10(f.Precision-f.Scale)-1)
			}
		}
		return json.Number(strconv.FormatFloat(x, 'f', scale, 64))
	case spec.TypeDate, spec.TypeDatetime:
		// any day of the years 1000 to 9999: wide, so runs against a live server rarely meet
		t := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(r.Int64N(9000*365)))
		t = t.Add(time.Duration(r.Int64N(24*3600)) * time.Second)
		if f.Type == spec.TypeDate {
			return t.Format("2006-01-02")
		}
		return t.Format(time.RFC3339)
	}
	return Random(f, r)
}

// bounds are f's min and max, or the defaults.
func bounds(f *spec.Field, lo, hi float64) (float64, float64) {
	if f.Min != nil {
		if v, err := strconv.ParseFloat(*f.Min, 64); err == nil {
			lo = math.Ceil(v)
		}
	}
	if f.Max != nil {
		if v, err := strconv.ParseFloat(*f.Max, 64); err == nil {
			hi = math.Floor(v)
		}
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}
