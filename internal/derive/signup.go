package derive

import "github.com/kiln-dev/kiln/internal/spec"

// Accounts that sign up. When no role may create records of the account resource through its
// collection (POST /users answers 403: accounts sign up, or are invited), a record that refers
// to an account — a lease's tenant — still gets one: a test account of its own, of the default
// role (what a sign-up makes), that `kiln test` creates as it creates every account a case acts
// as (as: tenant:leases_create_setup_users); the case reads its id from GET auth/me, and
// bodies refer to it as to any setup record ({setup_users.response.id}). The account
// resource's own files stay gaps: no role may create the record they work on.

// signedUp reports whether the records of r that bodies refer to are test accounts: r is the
// account resource and no role may create one.
func (g *gen) signedUp(r *spec.Resource) bool {
	if g.s.Auth == nil || r == nil || r.Name != g.s.Auth.Account {
		return false
	}
	_, ok := g.creator(r)
	return !ok
}

// accountCase adds case name: an account of the default role of f's own, read from auth/me,
// for bodies to refer to as {name.response.id}.
func (g *gen) accountCase(f *tfile, name string) {
	f.add(&tcase{name: name, as: accountFor(f, g.s.Auth.DefaultRole, name), method: "GET", path: g.base + "/auth/me",
		comment: "an account of the default role, as a sign-up makes (no role may create " + g.s.Auth.Account +
			"), for the bodies below to refer to", expect: want(200).key("id")})
}
