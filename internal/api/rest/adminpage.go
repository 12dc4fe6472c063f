package rest

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/service"
)

// maxAdminPage bounds a page of an admin list (jobs, webhook deliveries).
const maxAdminPage = 500

// adminPage reads the paging of an admin list — limit (1–500) and before (a positive id, the
// previous page's next_before) — refusing, as a resource's list does, a parameter not among
// those and allowed, and one given twice: a parameter ignored hid a mistake.
func adminPage(q url.Values, allowed ...string) (limit int, before int64, errs []service.FieldError) {
	names := append(append([]string{}, allowed...), "limit", "before")
	for name, vals := range q {
		switch {
		case !slices.Contains(names, name):
			errs = append(errs, service.FieldError{Field: name, Code: "unknown_parameter",
				Message: "use " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]})
		case len(vals) != 1:
			errs = append(errs, service.FieldError{Field: name, Code: "repeated", Message: "give this parameter once"})
		}
	}
	for _, name := range []string{"limit", "before"} {
		s := q.Get(name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil || n <= 0:
			errs = append(errs, service.FieldError{Field: name, Code: "format", Message: "must be a positive integer"})
		case name == "before":
			before = n
		case n > maxAdminPage: // a page smaller than asked hid a mistake
			errs = append(errs, service.FieldError{Field: name, Code: "range", Message: "must be 1 to " + strconv.Itoa(maxAdminPage)})
		default:
			limit = int(n)
		}
	}
	return limit, before, errs
}
