package derive

import (
	"fmt"
	"slices"
	"strings"

	celast "cel.dev/cel-go/common/ast"

	"github.com/kiln-dev/kiln/internal/spec"
)

// A rule may read fields of an account: get('users', record.assignee).role,
// record.requester.org (short for get()), get('users', auth.id).org. The accounts the suite
// links to are test accounts of the default role with nothing else set (signup.go), and a
// relation defaulting to auth.id is the creating account, a test account too: the suite
// cannot make such a read hold, but for the account's role when the rule names the default
// role among its texts. An optional relation a rule reads so, guarded by has(record.x), is
// left out of every body: the record is valid without it. Any other such read in a create
// rule makes the resource's records impossible to make (links.go): its files are printed as
// not derived, naming the rule, rather than sent to be refused by it.

// accountRead is one read of an account's field by a rule.
type accountRead struct {
	rule  *spec.LogicRule
	via   *spec.Field // the relation of the record it reads the account through; nil for auth.id
	field string      // the account's field it reads
}

// accountReads are the reads of account fields by r's rules that apply to op and that the
// suite's test accounts do not meet (unmetRead).
func (g *gen) accountReads(r *spec.Resource, op spec.Operation) []accountRead {
	if g.s.Auth == nil {
		return nil
	}
	var out []accountRead
	for _, rl := range r.Rules {
		if spec.Applies(rl.On, op) {
			out = append(out, readsOfAccounts(r, g.s.Auth.Account, rl)...)
		}
	}
	return slices.DeleteFunc(out, func(rd accountRead) bool { return !g.unmetRead(rd) })
}

// readsOfAccounts lists the fields of acct's records rl reads: through get('acct', record.x)
// or get('acct', auth.id) (all of them first, as the text gives them), then through a to-one
// relation to acct (record.x.field).
func readsOfAccounts(r *spec.Resource, acct string, rl *spec.LogicRule) []accountRead {
	e := parseAssert(rl.Check.Text)
	if e == nil {
		return nil
	}
	var gets, paths []accountRead
	celast.PostOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		if x.Kind() != celast.SelectKind {
			return
		}
		field, op := x.AsSelect().FieldName(), x.AsSelect().Operand()
		if via, ok := getOfAccount(r, acct, op); ok {
			gets = append(gets, accountRead{rule: rl, via: via, field: field})
			return
		}
		if name, v := selected(op); name != "" && (v == "record" || v == "new") {
			if f := r.Field(name); f != nil && f.Relation != nil && f.Relation.Kind == spec.RelToOne && f.Relation.To == acct {
				paths = append(paths, accountRead{rule: rl, via: f, field: field})
			}
		}
	}))
	return append(gets, paths...)
}

// getOfAccount reports whether e is get('acct', record.x) — via is r's field x — or
// get('acct', auth.id) — via is nil.
func getOfAccount(r *spec.Resource, acct string, e celast.Expr) (*spec.Field, bool) {
	if e.Kind() != celast.CallKind || e.AsCall().FunctionName() != "get" || len(e.AsCall().Args()) != 2 {
		return nil, false
	}
	args := e.AsCall().Args()
	if res, ok := stringLiteral(args[0]); !ok || res != acct {
		return nil, false
	}
	if isAuthID(args[1]) {
		return nil, true
	}
	name, v := selected(args[1])
	if name == "" || (v != "record" && v != "new") {
		return nil, false
	}
	via := r.Field(name)
	return via, via != nil
}

// unmetRead reports whether the suite's accounts may not meet the read: the role unless the
// rule names the default role ('customer' in ['agent', 'admin'] does not hold; 'tenant' ==
// 'tenant' may), and any other field but the id — unless the read goes through a relation
// without a default to accounts the suite creates (a role may), whose bodies send that field
// as they send other records' (get() of a made record: its example, its shared targets).
func (g *gen) unmetRead(rd accountRead) bool {
	switch rd.field {
	case "id":
		return false
	case "role":
		role := g.s.Auth.DefaultRole
		return !strings.Contains(rd.rule.Check.Text, "'"+role+"'") && !strings.Contains(rd.rule.Check.Text, `"`+role+`"`)
	}
	acct := g.s.Resource(g.s.Auth.Account)
	if rd.via == nil || rd.via.HasDefault || rd.via.DefaultExpr.Text != "" || acct == nil || g.signedUp(acct) {
		return true
	}
	f := acct.Field(rd.field)
	return f == nil || !writable(acct, f)
}

// leavable reports whether bodies may leave out the relation a rule reads an account through:
// it is optional, defaults to nothing, and the rule holds without it (it tests has(record.x)).
func leavable(rd accountRead) bool {
	f := rd.via
	if f == nil || f.Required || f.HasDefault || f.DefaultExpr.Text != "" {
		return false
	}
	text := rd.rule.Check.Text
	return strings.Contains(text, "has(record."+f.Name+")") || strings.Contains(text, "has(new."+f.Name+")")
}

// readsAccounts is why no record of r can be made when a create rule reads a field of an
// account that the suite's test accounts do not hold, through a relation bodies cannot leave
// out or the creator's auth.id ("" when none).
func (g *gen) readsAccounts(r *spec.Resource) string {
	for _, rd := range g.accountReads(r, spec.OpCreate) {
		if leavable(rd) {
			continue
		}
		acct := g.s.Auth.Account
		through := "the creating " + acct + " account (auth.id)"
		if rd.via != nil {
			through = "the " + acct + " account " + rd.via.Name + " refers to"
			if rd.via.Default == "auth.id" {
				through += " (by default the creating account)"
			}
		}
		return fmt.Sprintf("its rule %s reads %s of %s, which the suite's test accounts (%s, nothing else set) do not meet",
			ruleLabel(rd.rule), rd.field, through, g.s.Auth.DefaultRole)
	}
	return ""
}

// findUnsent fills g.unsent: the optional relations to accounts that a rule on create or update
// reads fields of, which the suite's test accounts do not meet, and that bodies leave out.
func (g *gen) findUnsent() {
	g.unsent = map[*spec.Field]bool{}
	for _, r := range g.s.Resources {
		for _, op := range []spec.Operation{spec.OpCreate, spec.OpUpdate} {
			for _, rd := range g.accountReads(r, op) {
				if leavable(rd) {
					g.unsent[rd.via] = true
				}
			}
		}
	}
}
