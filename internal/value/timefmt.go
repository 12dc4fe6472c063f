package value

import (
	"errors"
	"time"
)

// TimeLayout is how Kiln stores and renders datetimes: UTC, microseconds, fixed width, so text
// order is time order in SQLite and the values round-trip through PostgreSQL's timestamptz.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// DateLayout is how dates are stored and rendered.
const DateLayout = "2006-01-02"

// FormatTime renders t in TimeLayout.
func FormatTime(t time.Time) string {
	var b [len(TimeLayout)]byte
	return string(AppendTime(b[:0], t))
}

// AppendTime appends t in TimeLayout to b. Years 0 to 9999 take a fixed-width path (every
// record's timestamps are written on every read); others go through time's layout engine.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Truncate(time.Microsecond).AppendFormat(b, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends n (≥ 0) as exactly width decimal digits, zero-padded.
func appendDigits(b []byte, n, width int) []byte {
	b = append(b, "000000"[:width]...)
	for i := len(b) - 1; width > 0; i, width = i-1, width-1 {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return b
}

// MinYear and MaxYear bound the dates and date-times Kiln accepts: what SQLite and PostgreSQL
// both store and compare alike (PostgreSQL has no year 0, and TimeLayout has four digits).
const (
	MinYear = 1
	MaxYear = 9999
)

// ErrYearRange is the error for a date or date-time outside MinYear to MaxYear (in UTC).
var ErrYearRange = errors.New("the year is outside 1 to 9999")

// errNotRFC3339 is a date-time Go's parser takes that RFC 3339 does not: a comma before the
// fraction (10:00:00,5Z).
var errNotRFC3339 = errors.New("not an RFC 3339 date-time")

// ParseInput is ParseTime for a value a client sent: a date-time outside MinYear to MaxYear in
// UTC (0000-12-31T23:00:00Z, or 0001-01-01T00:30:00+01:00) is ErrYearRange; a comma before
// the fraction (which Go's parser takes) is no RFC 3339. A fraction finer than microseconds is
// cut to them, as every date-time is kept (Go's RFC3339Nano sends nanoseconds: refusing them
// would refuse every Go client's time.Now()).
func ParseInput(s string) (time.Time, error) {
	if err := checkFraction(s); err != nil {
		return time.Time{}, err
	}
	t, err := ParseTime(s)
	if err != nil {
		return t, err
	}
	if y := t.Year(); y < MinYear || y > MaxYear {
		return time.Time{}, ErrYearRange
	}
	return t, nil
}

// checkFraction refuses a comma before the fraction of a second.
func checkFraction(s string) error {
	if len(s) >= 20 && s[10] == 'T' && s[19] == ',' {
		return errNotRFC3339
	}
	return nil
}

// ParseDate parses a date (DateLayout) a client sent; year 0 is ErrYearRange.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return t, err
	}
	if t.Year() < MinYear {
		return time.Time{}, ErrYearRange
	}
	return t, nil
}

// ParseTime accepts RFC 3339 with any fraction and offset. TimeLayout, the stored form,
// takes a fast path: it is parsed on every row read from SQLite.
func ParseTime(s string) (time.Time, error) {
	if t, ok := parseStored(s); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// parseStored parses exactly TimeLayout ("2006-01-02T15:04:05.000000Z") without allocating.
func parseStored(s string) (time.Time, bool) {
	if len(s) != len(TimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	parts := [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 26}}
	var v [7]int
	for i, p := range parts {
		n, ok := num(p[0], p[1])
		if !ok {
			return time.Time{}, false
		}
		v[i] = n
	}
	if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6]*1000, time.UTC)
	if t.Day() != v[2] {
		return time.Time{}, false // Feb 30 and the like
	}
	return t, true
}
