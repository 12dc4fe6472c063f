package spec

import (
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

var authKeys = []string{"account", "signup", "default_role", "access_ttl", "refresh_ttl", "refresh_grace", "issuer", "audience", "providers", "public_url", "admin_roles", "mails"}

// presetIssuers are providers known by name: OIDC discovery does the rest.
var presetIssuers = map[string]string{"google": "https://accounts.google.com"}

func (w *walker) auth(e entry) *Auth {
	a := &Auth{Pos: e.pos, Signup: "open", AccessTTL: 15 * time.Minute, RefreshTTL: 30 * 24 * time.Hour,
		RefreshGrace: 10 * time.Second, Issuer: "kiln"}
	entries, _ := w.mapping(e.value, "auth", authKeys...)
	for _, ae := range entries {
		what := "auth." + ae.key
		switch ae.key {
		case "account":
			a.Account = w.str(ae.value, what)
		case "signup":
			a.Signup = w.str(ae.value, what)
		case "default_role":
			a.DefaultRole = w.str(ae.value, what)
		case "issuer":
			a.Issuer = w.str(ae.value, what)
		case "audience":
			a.Audience = w.str(ae.value, what)
		case "access_ttl":
			a.AccessTTL = w.duration(ae.value, what)
		case "refresh_ttl":
			a.RefreshTTL = w.duration(ae.value, what)
		case "refresh_grace":
			a.RefreshGrace = w.duration(ae.value, what)
		case "admin_roles":
			a.AdminRoles = w.strings(ae.value, what)
			if len(a.AdminRoles) == 0 {
				w.add(w.pos(ae.value), "auth.admin_roles needs at least one role")
			}
		case "public_url":
			a.PublicURL = strings.TrimSuffix(w.str(ae.value, what), "/")
		case "providers":
			providers, _ := w.mapping(ae.value, what)
			for _, pe := range providers {
				a.Providers = append(a.Providers, w.provider(pe))
			}
		case "mails":
			a.MailsPos = w.pos(ae.value)
			mails, _ := w.mapping(ae.value, what, AuthMailKinds...)
			a.Mails = map[string]string{}
			for _, me := range mails {
				a.Mails[me.key] = w.str(me.value, what+"."+me.key)
			}
		}
	}
	return a
}

func (w *walker) duration(n ast.Node, what string) time.Duration {
	s, _, ok := w.scalar(n, what)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		w.add(w.pos(n), "%s must be a positive duration such as 15m or 720h, not %q", what, s)
		return 0
	}
	return d
}

// rule reads one access rule: public, a list of roles, or a CEL expression.
func (w *walker) rule(e entry) *Rule {
	r := &Rule{Pos: w.pos(e.value)}
	if _, isList := unwrap(e.value).(*ast.SequenceNode); isList {
		r.Roles = w.strings(e.value, "access."+e.key)
		if len(r.Roles) == 0 {
			w.add(r.Pos, "access.%s: an empty role list would deny everyone; leave the rule out instead", e.key)
		}
		return r
	}
	s, null, ok := w.scalar(e.value, "access."+e.key)
	switch {
	case !ok:
	case null || s == "":
		w.add(r.Pos, "access.%s needs public, a list of roles, or a CEL expression", e.key)
	case s == "public":
		r.Public = true
	default:
		r.Expr = s
	}
	return r
}

func (w *walker) provider(e entry) *Provider {
	p := &Provider{Pos: e.pos, Name: e.key}
	var preset string
	var scopesSet bool
	entries, _ := w.mapping(e.value, "provider "+e.key, "preset", "issuer", "client_id", "client_secret", "scopes",
		"auth_url", "token_url", "api_url")
	for _, pe := range entries {
		what := "providers." + e.key + "." + pe.key
		switch pe.key {
		case "preset":
			preset = w.str(pe.value, what)
		case "issuer":
			p.Issuer = w.str(pe.value, what)
		case "client_id":
			p.ClientID = w.str(pe.value, what)
		case "client_secret":
			p.ClientSecret = w.str(pe.value, what)
		case "scopes":
			p.Scopes, scopesSet = w.strings(pe.value, what), true
		case "auth_url":
			p.AuthURL = w.str(pe.value, what)
		case "token_url":
			p.TokenURL = w.str(pe.value, what)
		case "api_url":
			p.APIURL = strings.TrimSuffix(w.str(pe.value, what), "/")
		}
	}
	w.applyPreset(p, preset, scopesSet)
	w.checkProvider(p)
	return p
}

func (w *walker) applyPreset(p *Provider, preset string, scopesSet bool) {
	if !scopesSet {
		p.Scopes = []string{"openid", "email", "profile"}
	}
	switch preset {
	case "":
	case "github":
		p.GitHub = true
		p.AuthURL = cmpOrStr(p.AuthURL, "https://github.com/login/oauth/authorize")
		p.TokenURL = cmpOrStr(p.TokenURL, "https://github.com/login/oauth/access_token")
		p.APIURL = cmpOrStr(p.APIURL, "https://api.github.com")
		if !scopesSet {
			p.Scopes = []string{"read:user", "user:email"}
		}
	default:
		issuer, ok := presetIssuers[preset]
		if !ok {
			w.add(p.Pos, "provider %s: unknown preset %q (known: google, github; use issuer: for any OIDC provider)", p.Name, preset)
		}
		p.Issuer = cmpOrStr(p.Issuer, issuer)
	}
}

func (w *walker) checkProvider(p *Provider) {
	switch {
	case !identRe.MatchString(p.Name):
		w.add(p.Pos, "provider name %q must be lowercase letters, digits and _", p.Name)
	case p.ClientID == "":
		w.add(p.Pos, "provider %s needs client_id", p.Name)
	case p.GitHub:
	case p.Issuer == "":
		w.add(p.Pos, "provider %s needs issuer: <OIDC issuer URL>, or preset: google or github", p.Name)
	case !slices.Contains(p.Scopes, "openid"):
		w.add(p.Pos, "provider %s: scopes must include openid", p.Name)
	}
}

// roles reads the top-level roles, reporting a role listed twice at its second entry and
// keeping it once (the account's role field would otherwise report it, at the auth block).
func (w *walker) roles(n ast.Node) []string {
	pos := map[string]Pos{}
	listed := w.stringsAt(n, "roles", pos, "roles")
	out := make([]string, 0, len(listed))
	for i, role := range listed {
		if slices.Contains(out, role) {
			w.add(pos[keyIndex("roles", i)], "role %q is listed twice", role)
			continue
		}
		out = append(out, role)
	}
	return out
}
