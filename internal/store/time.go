package store

import "time"

func asTime(v any) (time.Time, bool) {
	t, ok := v.(time.Time)
	return t, ok
}
