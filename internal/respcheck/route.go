package respcheck

import (
	"slices"
	"strings"
)

// route is one templated path of the document: /api/products/{id}.
type route struct {
	template string
	segments []string
	param    []bool // segments[i] is a template parameter ({id})
	item     map[string]any
}

func newRoute(template string, item map[string]any) route {
	segs := strings.Split(strings.TrimPrefix(template, "/"), "/")
	param := make([]bool, len(segs))
	for i, s := range segs {
		param[i] = len(s) > 2 && strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}")
	}
	return route{template: template, segments: segs, param: param, item: item}
}

// matches reports whether path (split like segments) fits the template.
func (r route) matches(path []string) bool {
	if len(path) != len(r.segments) {
		return false
	}
	for i, s := range r.segments {
		if r.param[i] {
			if path[i] == "" {
				return false // a parameter takes at least one character
			}
			continue
		}
		if s != path[i] {
			return false
		}
	}
	return true
}

// moreLiteral orders routes so that, at the first segment where they differ in kind, the
// literal one comes first: /api/products/events before /api/products/{id}.
func moreLiteral(a, b route) int {
	for i := 0; i < min(len(a.segments), len(b.segments)); i++ {
		al, bl := !a.param[i], !b.param[i]
		if al != bl {
			if al {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(a.template, b.template)
}

// findRoute returns the most literal route that matches path.
func findRoute(routes []route, path string) (route, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	i := slices.IndexFunc(routes, func(r route) bool { return r.matches(segs) })
	if i < 0 {
		return route{}, false
	}
	return routes[i], true
}
