package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kiln-dev/kiln/internal/mail"
)

// A trigger's mail template reads the event's records as the API shows them. A name it gets
// wrong — {{.new.totl}} — wrote nothing (or "<no value>") into every mail; now each path a
// template reads from its data is checked against the trigger's resource when the spec loads.

// templateRoots are what a trigger's mail template sees.
var templateRoots = []string{"new", "old", "record", "event", "to"}

// mailEventNames are the keys of .event.
var mailEventNames = []string{"resource", "operation", "action", "record_id"}

// checkMailRefs reports each path tmpl reads that the events of none of rs have (the trigger's
// resource first, and the others whose triggers use the same file: a template shared by orders
// and refunds branches on .event.resource), at pos (the template: key), with the place in the
// template file.
func checkMailRefs(c *collector, pos Pos, what string, rs []*Resource, tmpl *mail.Template) {
	for _, ref := range tmpl.Refs() {
		why := mailRefProblem(rs[0], ref.Path)
		for _, r := range rs[1:] {
			if why != "" && mailRefProblem(r, ref.Path) == "" {
				why = ""
			}
		}
		if why != "" {
			c.add(pos, "%s:%d:%d: {{.%s}}: %s", what, ref.Line, ref.Col, strings.Join(ref.Path, "."), why)
		}
	}
}

// sharingTemplate lists r, then the other resources with a trigger whose mail template is
// file.
func sharingTemplate(s *Spec, r *Resource, file string) []*Resource {
	out := []*Resource{r}
	for _, o := range s.Resources {
		if o == r {
			continue
		}
		for _, t := range o.Triggers {
			if t.Mail != nil && filepath.Clean(t.Mail.Template) == filepath.Clean(file) {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// mailRefProblem is what is wrong with path ("" when nothing).
func mailRefProblem(r *Resource, path []string) string {
	switch path[0] {
	case "new", "old", "record":
		if len(path) == 1 {
			return ""
		}
		return recordRefProblem(r, path[1:])
	case "event":
		if len(path) == 1 {
			return ""
		}
		if !slices.Contains(mailEventNames, path[1]) {
			return fmt.Sprintf(".event has %s, not %q%s", strings.Join(mailEventNames, ", "), path[1], suggest(path[1], mailEventNames))
		}
		if len(path) > 2 {
			return fmt.Sprintf(".event.%s is a string: it has no field %q", path[1], path[2])
		}
	case "to":
		if len(path) > 1 {
			return fmt.Sprintf(".to is the recipient's address: it has no field %q", path[1])
		}
	default:
		return fmt.Sprintf("a trigger's mail template sees .new, .old, .record, .event and .to, not .%s%s", path[0], suggest(path[0], templateRoots))
	}
	return ""
}

// recordRefProblem checks path (after .new, .old or .record) against r's record as its events
// hold it: the system fields and the fields the API shows.
func recordRefProblem(r *Resource, path []string) string {
	name := path[0]
	keys := []string{"id", "created_at", "updated_at", "version"}
	var field *Field
	for _, f := range r.Fields {
		if f.Hidden || f.IsInverse() {
			continue
		}
		keys = append(keys, f.Name)
		if f.Name == name {
			field = f
		}
	}
	if !slices.Contains(keys, name) {
		if f := r.Field(name); f != nil && f.Hidden {
			return fmt.Sprintf("%s.%s is hidden: a mail sees the record as the API shows it", r.Name, name)
		}
		return fmt.Sprintf("%s has no field %q%s", r.Name, name, suggest(name, keys))
	}
	if len(path) > 1 && (field == nil || !field.StoredAsJSON()) {
		return fmt.Sprintf("%s.%s is a single value: it has no field %q", r.Name, name, path[1])
	}
	return ""
}
