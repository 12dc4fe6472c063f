package auth

import (
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// ValidScope reports whether s is resource:action, resource:read, resource:write or
// resource:* for a resource of the spec (or * for every resource), or resource:<name> for a
// record action the resource declares (tickets:check_in).
func ValidScope(s *spec.Spec, scope string) bool {
	res, action, ok := strings.Cut(scope, ":")
	if !ok || (res != "*" && s.Resource(res) == nil) {
		return false
	}
	if action == "read" || action == "write" || action == "*" || slices.Contains(spec.Actions, spec.Action(action)) {
		return true
	}
	return res != "*" && slices.ContainsFunc(s.Resource(res).Actions, func(a *spec.RecordAction) bool { return a.Name == action })
}

// ValidateKey checks a key's name, role and scopes, reporting every problem at once.
func ValidateKey(s *spec.Spec, k APIKey) error {
	var errs []service.FieldError
	bad := func(field, code, msg string) {
		errs = append(errs, service.FieldError{Field: field, Code: code, Message: msg})
	}
	switch code := value.TextProblem(k.Name); {
	case k.Name == "" || len(k.Name) > 100:
		bad("name", "required", "is required (at most 100 characters)")
	case code != "": // the CLI passes names that no JSON decoder saw
		bad("name", code, value.TextMessage(code))
	}
	if !slices.Contains(s.Roles, k.Role) {
		bad("role", "enum", "must be one of: "+strings.Join(s.Roles, ", "))
	}
	for _, sc := range k.Scopes {
		if !ValidScope(s, sc) {
			bad("scopes", "invalid_scope", scopeProblem(s, sc)+": scopes are resource:action (list, view, create, update, delete, "+
				"or a record action of the resource), resource:read, resource:write or resource:* (resource may be *)")
		}
	}
	if len(k.Scopes) == 0 {
		bad("scopes", "required", "give at least one scope, such as products:read")
	}
	if len(errs) > 0 {
		return &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields", Fields: errs}
	}
	return nil
}

// scopeProblem names what is wrong with an invalid scope: its resource or its action.
func scopeProblem(s *spec.Spec, scope string) string {
	res, action, ok := strings.Cut(scope, ":")
	switch {
	case !ok:
		return strconv.Quote(scope) + " has no action (resource:action)"
	case res != "*" && s.Resource(res) == nil:
		names := make([]string, len(s.Resources))
		for i, r := range s.Resources {
			names[i] = r.Name
		}
		return strconv.Quote(scope) + ": no resource " + strconv.Quote(res) + spec.DidYouMean(res, names)
	case res == "*":
		return strconv.Quote(scope) + ": " + strconv.Quote(action) + " is not an action every resource has"
	}
	names := []string{"read", "write", "*"}
	for _, a := range spec.Actions {
		names = append(names, string(a))
	}
	for _, a := range s.Resource(res).Actions {
		names = append(names, a.Name)
	}
	return strconv.Quote(scope) + ": " + res + " has no action " + strconv.Quote(action) + spec.DidYouMean(action, names)
}
