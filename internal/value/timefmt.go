package value

import "time"

// TimeLayout is how Kiln stores and renders datetimes: UTC, microseconds, fixed width, so text
// order is time order in SQLite and the values round-trip through PostgreSQL's timestamptz.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// DateLayout is how dates are stored and rendered.
const DateLayout = "2006-01-02"

// FormatTime renders t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(TimeLayout) }

// ParseTime accepts RFC 3339 with any fraction and offset.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Microsecond), nil
}
