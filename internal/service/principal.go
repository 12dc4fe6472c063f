package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Principal is who makes a request: an account, or an API key acting with a role.
type Principal struct {
	ID        string // the account; empty for an API key
	Role      string
	SessionID string
	KeyID     string   // set for API keys
	Scopes    []string // an API key's scopes; nil for accounts
	// Expires is when the credential must be checked again: an access token's exp, or for an
	// API key its expiry or a re-check interval. A long live-update stream ends then.
	Expires time.Time
}

// ScopeAllows reports whether scopes cover an action on a resource. A scope is
// resource:action, resource:read (list, view), resource:write (create, update, delete),
// resource:* or *:read / *:write / *:*; a record action (action:check_in) is a write, and
// resource:check_in covers that one action alone.
func ScopeAllows(scopes []string, resource string, action string) bool {
	group := "write"
	if action == "list" || action == "view" {
		group = "read"
	}
	own := resource + ":" + action
	if name, ok := strings.CutPrefix(action, expr.ActionPrefix); ok {
		own = resource + ":" + name
		if ScopeWord(name) {
			own = "" // an action named like an operation or a group is covered by write only
		}
	}
	for _, s := range []string{own, resource + ":" + group, resource + ":*", "*:" + group, "*:*"} {
		if s != "" && slices.Contains(scopes, s) {
			return true
		}
	}
	return false
}

// ScopeWord reports whether name is an operation or a group a scope names (list, view,
// create, update, delete, read, write, *): a record action so named has no scope of its own.
func ScopeWord(name string) bool {
	return name == "read" || name == "write" || name == "*" || slices.Contains(spec.Actions, spec.Action(name))
}

// HasRole reports whether the principal holds one of roles.
func (p *Principal) HasRole(roles ...string) bool {
	return p != nil && slices.Contains(roles, p.Role)
}

func (p *Principal) rules() *expr.Auth {
	return &expr.Auth{ID: p.ID, Role: p.Role, Roles: []string{p.Role}, Key: p.KeyID}
}

type principalKey struct{}

type systemKey struct{}

// WithPrincipal attaches the authenticated principal to ctx.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal attached to ctx, or nil for an anonymous request.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// AsSystem marks ctx as Kiln itself acting (seeding, sign-up, the CLI): access rules and
// field write roles do not apply. Transports never set it from a request.
func AsSystem(ctx context.Context) context.Context {
	return context.WithValue(ctx, systemKey{}, true)
}

func isSystem(ctx context.Context) bool {
	b, _ := ctx.Value(systemKey{}).(bool)
	return b
}
