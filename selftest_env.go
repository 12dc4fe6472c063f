package kiln

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/selftest"
	"github.com/kiln-dev/kiln/internal/service"
)

// TestEnv lets `kiln test` (and Go tests) run YAML cases against this app at baseURL: it
// makes test accounts per role and answers database checks through the store.
type TestEnv struct {
	app      *App
	baseURL  string
	mu       sync.Mutex
	accounts map[string]string // role → account id
	schema   schemaChecker
	rnd      *rand.Rand      // for {random:...}, under mu
	issued   map[string]bool // "resource.field=value" handed out by {random:...}, under mu
	rules    *expr.Rules     // compiled once, under mu
}

var _ selftest.Env = (*TestEnv)(nil)

// NewTestEnv serves the app's checks for tests sent to baseURL.
func (a *App) NewTestEnv(baseURL string) *TestEnv {
	return &TestEnv{app: a, baseURL: baseURL, accounts: map[string]string{}}
}

// URL is where requests go.
func (e *TestEnv) URL() string { return e.baseURL }

// DefaultRole is the role of {valid_token} when a file or case names none: the spec's first
// role (by convention the most trusted, such as admin).
func (e *TestEnv) DefaultRole() string {
	if len(e.app.Spec.Roles) == 0 {
		return ""
	}
	return e.app.Spec.Roles[0]
}

// account is the test account for role; "role:name" is another account with the same role
// (as: customer:other reads a record another customer owns).
func (e *TestEnv) account(ctx context.Context, role string) (string, error) {
	if e.app.Accounts == nil {
		return "", ErrNoAccounts
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if id, ok := e.accounts[role]; ok {
		return id, nil
	}
	name := strings.ReplaceAll(role, ":", "-")
	in := e.accountInput("selftest-"+name+"-"+time.Now().Format("150405.000000")+"@example.test", roleOf(role))
	rec, err := e.app.Service.Create(service.AsSystem(ctx), e.app.Spec.Auth.Account, in, service.WriteOpts{})
	if err != nil {
		return "", fmt.Errorf("test account for role %s: %w%s", role, err, fieldsOf(err))
	}
	e.accounts[role] = rec.ID
	return rec.ID, nil
}

// fieldsOf lists err's field errors (" (email: must be an email address [format]; …)"), or "".
func fieldsOf(err error) string {
	var parts []string
	for _, f := range service.AsError(err).Fields {
		parts = append(parts, f.Field+": "+f.Message+" ["+f.Code+"]")
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// Token is an access token for the role's test account.
func (e *TestEnv) Token(ctx context.Context, role string) (string, error) {
	id, err := e.account(ctx, role)
	if err != nil {
		return "", err
	}
	pair, err := e.app.Accounts.StartSession(ctx, id)
	if err != nil {
		return "", err
	}
	return pair.AccessToken, nil
}

// ExpiredToken is a correctly signed token that expired an hour ago.
func (e *TestEnv) ExpiredToken(ctx context.Context, role string) (string, error) {
	id, err := e.account(ctx, role)
	if err != nil {
		return "", err
	}
	return e.app.Accounts.AccessTokenAt(ctx, id, time.Now().Add(-e.app.Spec.Auth.AccessTTL-time.Hour))
}

// APIKey is a key with every scope, acting with role.
func (e *TestEnv) APIKey(ctx context.Context, role string) (string, error) {
	if e.app.Accounts == nil {
		return "", ErrNoAccounts
	}
	_, secret, err := e.app.Accounts.Keys().Create(ctx, auth.APIKey{Name: "selftest", Role: roleOf(role), Scopes: []string{"*:*"}}, time.Hour)
	return secret, err
}

// Resource resolves "Product", "products" or "order items" to a resource name.
func (e *TestEnv) Resource(name string) (string, bool) {
	n := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(name), " ", "_"))
	for _, r := range e.app.Spec.Resources {
		if r.Name == n || r.Name == n+"s" || r.Name == n+"es" || strings.TrimSuffix(r.Name, "ies")+"y" == n {
			return r.Name, true
		}
	}
	return "", false
}

// ResourceOfPath is the resource a request path addresses.
func (e *TestEnv) ResourceOfPath(path string) (string, bool) {
	rest := strings.TrimPrefix(path, e.app.Spec.Server.BasePath+"/")
	name, _, _ := strings.Cut(rest, "/")
	name, _, _ = strings.Cut(name, "?")
	if e.app.Spec.Resource(name) == nil {
		return "", false
	}
	return name, true
}

// Count counts the stored records of resource whose fields equal where, values written as in
// a test file (`price: "9.50"`, `status: paid`). It is an independent check of what the API
// answers: every record is read and compared in memory, not through the API's filters or the
// SQL they become.
func (e *TestEnv) Count(ctx context.Context, resource string, where map[string]any) (int64, error) {
	r := e.app.Spec.Resource(resource)
	if r == nil {
		return 0, errors.New("no resource " + resource)
	}
	conds := make([]string, 0, len(where))
	for k, v := range where {
		c, err := shorthandCEL(r, k, whereText(v))
		if err != nil {
			return 0, err
		}
		conds = append(conds, c)
	}
	recs, err := e.matching(ctx, r, conds, nil)
	return int64(len(recs)), err
}

// whereText writes a value of a test file as a query string carries it.
func whereText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
