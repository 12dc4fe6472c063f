package spec

import (
	"cmp"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/netpolicy"
	"github.com/kiln-dev/kiln/internal/value"
)

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secretEnvProblem is what is wrong with a webhook's secret_env (the name of the variable
// holding its secret), said after the webhook's name, or "".
func secretEnvProblem(name, what string) string {
	switch {
	case name == "" || strings.HasPrefix(name, "whsec_"):
		return "needs secret_env: the name of the environment variable holding its " + what + " (never the secret itself)"
	case !envNameRe.MatchString(name):
		return "has secret_env " + strconv.Quote(name) + ", which is no environment variable name (letters, digits and _, not starting with a digit)"
	}
	return ""
}

func validateWebhooks(s *Spec, c *collector) {
	seen := map[string]bool{}
	for _, w := range s.Webhooks.Subscriptions {
		checkIdent(c, w.Pos, "webhook", w.Name)
		if seen[w.Name] {
			c.add(w.Pos, "webhook %s is declared twice", w.Name)
		}
		seen[w.Name] = true
		if !value.IsWebURL(w.URL) {
			c.add(w.Pos, "webhook %s: url %q must be an absolute http or https URL", w.Name, w.URL)
		} else if ip, ok := literalHost(w.URL); ok && !netpolicy.Allowed(ip, s.Webhooks.AllowNetworks) {
			c.add(w.Pos, "webhook %s: url %q is an internal address deliveries may not reach; allow it with webhooks_allow_hosts if it is meant", w.Name, w.URL)
		}
		if why := secretEnvProblem(w.SecretEnv, "whsec_ secret"); why != "" {
			c.add(w.Pos, "webhook %s %s", w.Name, why)
		}
		if len(w.Events) == 0 {
			c.add(w.Pos, "webhook %s needs events: such as [orders.update] or [orders.*]", w.Name)
		}
		for i, e := range w.Events {
			if msg := s.CheckEventPattern(e); msg != "" {
				c.add(keyAt(w.keyPos, w.Pos, keyIndex("events", i)), "webhook %s: %s", w.Name, msg)
			}
		}
		if w.When.Set() && w.Resource() == "" {
			c.add(w.When.Pos, "webhook %s: when: needs events of one resource (old and new must have one type)", w.Name)
		}
	}
	validateIncoming(s, c)
}

// CheckEventPattern explains what is wrong with an event pattern ("resource.operation",
// "resource.*" or "*"), or returns "".
func (s *Spec) CheckEventPattern(p string) string {
	if p == "*" {
		return ""
	}
	res, op, ok := strings.Cut(p, ".")
	r := s.Resource(res)
	switch {
	case !ok:
		return "event " + p + " must be resource.operation, resource.* or *"
	case r == nil:
		return "event " + p + ": no resource " + res + didYouMean(res, resourceNames(s))
	case op == "*" || op == string(OpCreate) || op == string(OpUpdate) || op == string(OpDelete):
		return ""
	case r.RecordAction(op) != nil:
		return ""
	}
	ops := append([]string{string(OpCreate), string(OpUpdate), string(OpDelete)}, actionNames(r)...)
	return "event " + p + ": " + op + " is not create, update, delete or an action of " + res + didYouMean(op, ops)
}

func validateIncoming(s *Spec, c *collector) {
	byName, byPath := map[string]*IncomingWebhook{}, map[string]*IncomingWebhook{}
	for _, in := range s.Webhooks.Incoming {
		checkIdent(c, in.at("name"), "incoming webhook", in.Name)
		checkIncomingClash(in, byName[in.Name], byPath[in.Path], c)
		byName[in.Name] = cmp.Or(byName[in.Name], in)
		byPath[in.Path] = cmp.Or(byPath[in.Path], in)
		if !strings.HasPrefix(in.Path, "/") || strings.ContainsAny(in.Path, "{} ?#") {
			c.add(in.at("path"), "%s: path %q must be a plain absolute path such as /hooks/stripe", in.label(), in.Path)
		} else if owner := routeOwner(s, in.Path); owner != "" {
			c.add(in.at("path"), "%s: path %q is %s; use a path of its own such as /hooks/%s", in.label(), in.Path, owner, in.Name)
		}
		if !slices.Contains([]string{SchemeStripe, SchemeStandard}, in.Scheme) {
			c.add(in.at("scheme"), "%s: scheme must be stripe or standard", in.label())
		}
		if why := secretEnvProblem(in.SecretEnv, "secret"); why != "" {
			c.add(in.at("secret_env"), "%s %s", in.label(), why)
		}
		validateIncomingTarget(s, in, c)
		in.Tolerance = cmp.Or(in.Tolerance, DefaultWebhookTolerance)
		in.MaxBodyBytes = cmp.Or(in.MaxBodyBytes, DefaultWebhookMaxBody)
		if in.MaxBodyBytes < 0 {
			c.add(in.at("max_body_bytes"), "%s: max_body_bytes must be positive", in.label())
		}
	}
}

// checkIncomingClash reports an endpoint whose name or path an earlier one has. The
// payments endpoint comes last: a spec's entry of its name is reported at that entry,
// whose name is the one to change.
func checkIncomingClash(in, sameName, samePath *IncomingWebhook, c *collector) {
	switch {
	case sameName != nil && in.Payments:
		c.add(sameName.at("name"), "incoming webhook name %q is the payments endpoint's; choose another", in.Name)
	case sameName != nil:
		c.add(in.at("name"), "%s is declared twice", in.label())
	case samePath != nil:
		c.add(in.at("path"), "%s: path %q is another incoming webhook's (%s)", in.label(), in.Path, samePath.Name)
	}
}

func validateIncomingTarget(s *Spec, in *IncomingWebhook, c *collector) {
	if in.Payments {
		return
	}
	if (in.Handler == "") == (in.Action == nil) {
		at := in.Pos
		if in.Action != nil {
			at = laterKey(in.KeyPos, "handler", "action")
		}
		c.add(at, "incoming webhook %s needs exactly one of handler: (a Go handler) or action: {resource, name, record_id}", in.Name)
		return
	}
	if in.Handler != "" {
		checkIdent(c, in.at("handler"), "handler", in.Handler)
		return
	}
	a := in.Action
	r := s.Resource(a.Resource)
	switch {
	case r == nil:
		c.add(in.at("action.resource", "action"), "incoming webhook %s: action: no resource %q%s", in.Name, a.Resource,
			didYouMean(a.Resource, resourceNames(s)))
	default:
		checkInputless(c, in.at("action.name", "action"), "incoming webhook "+in.Name, r, a.Name)
	}
	if a.RecordID == "" || strings.HasPrefix(a.RecordID, ".") || strings.HasSuffix(a.RecordID, ".") || strings.Contains(a.RecordID, "..") {
		c.add(in.at("action.record_id", "action"), "incoming webhook %s: action.record_id must be the dotted path of the record's id in the body, such as data.object.metadata.order_id", in.Name)
	}
}

// routeOwner names what Kiln already serves at path (the API under server.base_path, the docs
// page, the health checks, the answer to unknown paths at the root), or "" when the path is
// free for an incoming webhook.
func routeOwner(s *Spec, path string) string {
	switch {
	case path == "/":
		return "the root, where Kiln answers unknown paths"
	case path == "/healthz" || path == "/readyz":
		return "Kiln's own " + path
	case path == "/docs" || strings.HasPrefix(path, "/docs/"):
		return "Kiln's own /docs"
	case path == s.Server.BasePath || strings.HasPrefix(path, s.Server.BasePath+"/"):
		return "under server.base_path " + s.Server.BasePath + ", where the API is served"
	}
	return ""
}

// literalHost is the IP address a URL's host spells out, if it is one.
func literalHost(raw string) (netip.Addr, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return ip, err == nil
}
