package spec

import (
	"github.com/kiln-dev/kiln/internal/mail"
	"slices"
	"strings"
)

// Account field names Kiln adds to (or checks on) the account resource.
const (
	FieldEmail        = "email"
	FieldPasswordHash = "password_hash"
	FieldRole         = "role"
	FieldVerified     = "verified"
	FieldDisabled     = "disabled"
	// FieldPassword is the write-only input of the account resource; it is stored as a hash.
	FieldPassword = "password"
)

var signupModes = []string{"open", "invite", "off"}

// prepareAuth checks the auth block and adds the account fields before other checks run.
func prepareAuth(s *Spec, c *collector) {
	a := s.Auth
	if a == nil {
		return
	}
	if a.Audience == "" {
		a.Audience = cmpOrStr(s.Name, "kiln")
	}
	if !slices.Contains(signupModes, a.Signup) {
		c.add(a.Pos, "auth.signup must be one of open, invite, off, not %q", a.Signup)
	}
	if len(s.Roles) == 0 {
		c.add(a.Pos, "auth needs roles: [...] at the top level")
	}
	if a.DefaultRole == "" && len(s.Roles) > 0 {
		a.DefaultRole = s.Roles[len(s.Roles)-1]
	}
	if len(a.Providers) > 0 && !strings.HasPrefix(a.PublicURL, "http://") && !strings.HasPrefix(a.PublicURL, "https://") {
		c.add(a.Pos, "auth.public_url must be this API's external URL (http(s)://...) when login providers are set")
	}
	if a.DefaultRole != "" && !slices.Contains(s.Roles, a.DefaultRole) {
		c.add(a.Pos, "auth.default_role %s", notARole(s, a.DefaultRole))
	}
	prepareAdminRoles(s, a, c)
	a.MailTemplates = map[string]*mail.Template{}
	for kind, file := range a.Mails {
		if t := loadMailTemplate(s, c, a.MailsPos, "auth.mails."+kind, file); t != nil {
			a.MailTemplates[kind] = t
		}
	}
	var account *Resource
	for _, r := range s.Resources {
		if r.Name == a.Account {
			account = r
		}
	}
	if account == nil {
		c.add(a.Pos, "auth.account must name the account resource, not %q", a.Account)
		return
	}
	addAccountFields(account, s, a, c)
}

func addAccountFields(r *Resource, s *Spec, a *Auth, c *collector) {
	has := map[string]*Field{}
	for _, f := range r.Fields {
		has[f.Name] = f
		if f.Name == FieldPassword || f.Name == FieldPasswordHash {
			c.add(f.Pos, "field %s is reserved on the account resource (passwords are set through %s)", f.Name, FieldPassword)
		}
	}
	if f := has[FieldEmail]; f != nil && f.Type != TypeEmail {
		c.add(f.Pos, "the account resource's email field must have type email")
	}
	ml := 254
	add := func(f *Field) {
		if has[f.Name] == nil {
			f.Pos, f.System, f.Scale = a.Pos, true, -1
			r.Fields = append(r.Fields, f)
		}
	}
	add(&Field{Name: FieldEmail, Type: TypeEmail, Required: true, Unique: true, MaxLength: &ml})
	add(&Field{Name: FieldPasswordHash, Type: TypeText, Hidden: true, Readonly: true})
	add(&Field{Name: FieldRole, Type: TypeEnum, Values: s.Roles, Required: true, HasDefault: true, Default: a.DefaultRole, Write: a.AdminRoles})
	add(&Field{Name: FieldVerified, Type: TypeBoolean, Required: true, HasDefault: true, Default: "false", Write: a.AdminRoles})
	add(&Field{Name: FieldDisabled, Type: TypeBoolean, Required: true, HasDefault: true, Default: "false", Write: a.AdminRoles})
}

// prepareAdminRoles defaults auth.admin_roles — the roles that manage accounts, invitations
// and API keys — to admin when declared, else to the first role (roles are listed from most
// to least privileged; default_role takes the last), and checks a declared list.
func prepareAdminRoles(s *Spec, a *Auth, c *collector) {
	if a.AdminRoles == nil && len(s.Roles) > 0 {
		a.AdminRoles = []string{s.Roles[0]}
		if slices.Contains(s.Roles, "admin") {
			a.AdminRoles = []string{"admin"}
		}
	}
	for _, role := range a.AdminRoles {
		if !slices.Contains(s.Roles, role) {
			c.add(a.Pos, "auth.admin_roles: %s", notARole(s, role))
		}
	}
}

// validateAccess checks each rule's roles, and that rules beyond public have accounts to check.
func validateAccess(s *Spec, r *Resource, c *collector) {
	for action, rule := range r.Access {
		for _, role := range rule.Roles {
			if !slices.Contains(s.Roles, role) {
				c.add(rule.Pos, "access.%s: %s", action, notARole(s, role))
			}
		}
		if !rule.Public && s.Auth == nil {
			c.add(rule.Pos, "access.%s: roles and expressions need an auth block with accounts", action)
		}
	}
	for _, f := range r.Fields {
		for _, role := range f.Write {
			if !slices.Contains(s.Roles, role) {
				c.add(f.Pos, "field %s: write role %s", f.Name, notARole(s, role))
			}
		}
	}
}

func cmpOrStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
