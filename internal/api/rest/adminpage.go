package rest

import (
	"net/http"
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
	errs = adminParams(q, append(append([]string{}, allowed...), "limit", "before"))
	for _, name := range []string{"limit", "before"} {
		n, err := positive(q, name)
		switch {
		case err != nil:
			errs = append(errs, *err)
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

// adminParams refuses a parameter not among names and one given twice.
func adminParams(q url.Values, names []string) (errs []service.FieldError) {
	for name, vals := range q {
		switch {
		case !slices.Contains(names, name):
			errs = append(errs, service.FieldError{Field: name, Code: "unknown_parameter",
				Message: "use " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]})
		case len(vals) != 1:
			errs = append(errs, service.FieldError{Field: name, Code: "repeated", Message: "give this parameter once"})
		}
	}
	return errs
}

// positive reads parameter name as a positive integer; 0 when it is absent.
func positive(q url.Values, name string) (int64, *service.FieldError) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, &service.FieldError{Field: name, Code: "format", Message: "must be a positive integer"}
	}
	return n, nil
}

// listRefused answers an admin list that cannot be given — its parameters' errs (400), or
// err — and reports whether it did.
func (h *Handler) listRefused(w http.ResponseWriter, r *http.Request, errs []service.FieldError, err error) bool {
	switch {
	case len(errs) > 0:
		WriteError(w, r, h.log, &service.Error{Code: service.CodeValidation, Message: "the query has invalid parameters", Fields: errs})
	case err != nil:
		WriteError(w, r, h.log, err)
	default:
		return false
	}
	return true
}
