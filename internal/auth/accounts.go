package auth

import (
	"context"
	"errors"
	"github.com/kiln-dev/kiln/internal/mail"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/redisguard"
	"github.com/kiln-dev/kiln/internal/revocation"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// AccountsConfig wires the account flows.
type AccountsConfig struct {
	Spec     *spec.Spec
	Service  *service.Service
	Store    *store.Store
	Tokens   *Tokens
	Sessions *Sessions
	Hasher   *Hasher
	Keys     *Keys
	Mailer   Mailer
	Logger   *slog.Logger
	// Redis, when set, shares the failed-login counts between instances (keys under RedisPrefix).
	Redis       *redisguard.Guard
	RedisPrefix string
	// Revocations, when set, refuses access tokens of revoked sessions and disabled accounts on
	// every instance (revoke.go).
	Revocations *revocation.List
	Now         func() time.Time
}

// Accounts runs sign-up, login, refresh, logout and request authentication.
type Accounts struct {
	cfg      AccountsConfig
	resource *spec.Resource
	failures failureCounter
	roles    sync.Map // account id → cachedRole: saves a query per authenticated request
	resets   *resetQueue
	mails    map[string]*mail.Template // account mails by kind
}

// keyRecheck is how long a long-lived use of an API key (a live-update stream) goes before
// the key is checked again.
const keyRecheck = 15 * time.Minute

// roleTTL bounds how long an instance may keep using a changed or disabled account's cached
// role should the change not reach it through the revocation list (which drops it at once).
const roleTTL = 5 * time.Second

type cachedRole struct {
	role    string
	expires time.Time
}

// Forget drops an account from the role cache; the service calls it after writing an account.
func (a *Accounts) Forget(id string) { a.roles.Delete(id) }

// TokenPair is what login, sign-up and refresh answer (OAuth2's names).
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int
	User         *store.Record
}

// NewAccounts builds the account flows for the spec's account resource.
func NewAccounts(cfg AccountsConfig) (*Accounts, error) {
	if cfg.Spec.Auth == nil {
		return nil, errors.New("accounts need an auth block in the spec")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	mails, err := mailTemplates(cfg.Spec.Auth.MailTemplates)
	if err != nil {
		return nil, err
	}
	a := &Accounts{cfg: cfg, resource: cfg.Spec.Resource(cfg.Spec.Auth.Account), failures: failureCounterFor(cfg), mails: mails}
	a.resets = newResetQueue(a.sendReset)
	return a, nil
}

func normalEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Resource is the account resource.
func (a *Accounts) Resource() *spec.Resource { return a.resource }

var errBadLogin = service.Errorf(service.CodeUnauthorized, "invalid email or password")

// Signup creates an account (open sign-up only) and logs it in. Fields only admins may set
// (role, verified, disabled) are refused, so nobody signs up as an admin.
func (a *Accounts) Signup(ctx context.Context, in map[string]any) (*TokenPair, error) {
	if a.cfg.Spec.Auth.Signup == "off" {
		return nil, service.Errorf(service.CodeForbidden, "sign-up is off")
	}
	in = copyMap(in)
	_, hasInvite := in[FieldInvite]
	invite, _ := in[FieldInvite].(string) // redeemInvite takes it out of in
	var denied []service.FieldError
	for _, f := range a.resource.Fields {
		if _, given := in[f.Name]; given && len(f.Write) > 0 {
			denied = append(denied, service.FieldError{Field: f.Name, Code: "not_allowed", Message: "cannot be set at sign-up"})
		}
	}
	if _, given := in[spec.FieldPassword]; !given {
		denied = append(denied, service.FieldError{Field: spec.FieldPassword, Code: "required", Message: "is required"})
	}
	if len(denied) > 0 {
		return nil, &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields", Fields: denied}
	}
	role, err := a.redeemInvite(ctx, in)
	if err != nil {
		return nil, err
	}
	if hasInvite {
		in[spec.FieldRole], in[spec.FieldVerified] = role, true // the invitation proved the address
	}
	rec, err := a.cfg.Service.Create(service.AsSystem(ctx), a.resource.Name, in, service.WriteOpts{})
	if err != nil && hasInvite {
		// the invitation was spent for this sign-up, which did not happen: it stays usable
		return nil, a.giveBack(ctx, err, purposeInvite, invite)
	}
	if err != nil {
		return nil, err
	}
	return a.start(ctx, rec)
}

// Login checks an email and password. Unknown emails cost the same time as wrong passwords;
// repeated failures for an email or an address are refused for a while (429).
func (a *Accounts) Login(ctx context.Context, email, password, ip string) (*TokenPair, error) {
	email = normalEmail(email)
	// counted against the email as it begins (a failure unless it succeeds): a burst cannot outrun it
	if wait := a.failures.begin(ctx, email, ip); wait > 0 {
		return nil, &service.Error{Code: service.CodeRateLimited, Message: "too many failed logins: try again later", RetryAfter: wait}
	}
	rec, err := a.byEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		a.cfg.Hasher.VerifyDummy(ctx, password)
		a.failures.fail(ctx, email, ip)
		return nil, errBadLogin
	}
	hash, _ := a.value(rec, spec.FieldPasswordHash).(string)
	ok, rehash, err := a.cfg.Hasher.Verify(ctx, password, hash)
	if err != nil || !ok || a.disabled(rec) {
		a.failures.fail(ctx, email, ip)
		return nil, errBadLogin
	}
	a.failures.succeed(ctx, email, ip)
	if rehash {
		if up := a.upgradeHash(ctx, rec, password); up != nil {
			hash, _ = a.value(up, spec.FieldPasswordHash).(string)
		}
	}
	pair, err := a.start(ctx, rec)
	if err != nil {
		return nil, err
	}
	return pair, a.stillValid(ctx, rec.ID, hash, pair)
}

// stillValid ends the session a login just started when the account's password changed (or
// the account was disabled) since the login read it: a reset or change that committed while
// the login verified the old password ends every session it finds, and the login's, started
// after, was not among them. Read after the session was written, the account shows any
// change whose revocation could have missed the session.
func (a *Accounts) stillValid(ctx context.Context, id, hash string, pair *TokenPair) error {
	cur, err := a.cfg.Store.Reader().Get(ctx, a.resource.Name, id, nil)
	if err == nil && !a.disabled(cur) {
		if now, _ := a.value(cur, spec.FieldPasswordHash).(string); now == hash {
			return nil
		}
	}
	if rerr := a.cfg.Sessions.Revoke(ctx, pair.RefreshToken); rerr != nil {
		return rerr
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return errBadLogin
}

// upgradeHash stores password hashed anew, only while the account is still as the login
// read it (its version): a password set since — a reset or change committed while the login
// verified the old hash — must not be overwritten with the one the login verified.
// It returns the account as written, or nil when it was not.
func (a *Accounts) upgradeHash(ctx context.Context, rec *store.Record, password string) *store.Record {
	match := &service.Match{Version: rec.Version, State: service.StateTag(a.resource, rec)}
	up, err := a.cfg.Service.Update(service.AsSystem(ctx), a.resource.Name, rec.ID, map[string]any{spec.FieldPassword: password}, false, service.WriteOpts{IfMatch: match})
	var e *service.Error
	if errors.As(err, &e) && e.Code == service.CodePrecondition {
		return nil // the account changed since: the next login upgrades it
	}
	if err != nil && a.cfg.Logger != nil {
		a.cfg.Logger.WarnContext(ctx, "password hash upgrade failed", "account_id", rec.ID)
	}
	if err != nil {
		return nil
	}
	return up
}

// Refresh rotates a refresh token and issues a new pair.
func (a *Accounts) Refresh(ctx context.Context, token string) (*TokenPair, error) {
	sess, err := a.cfg.Sessions.Rotate(ctx, token)
	if errors.Is(err, ErrInvalidRefresh) || errors.Is(err, ErrRefreshReused) {
		return nil, service.Errorf(service.CodeUnauthorized, "the refresh token is not valid: log in again")
	}
	if err != nil {
		return nil, err
	}
	rec, err := a.account(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	return a.pair(rec, sess)
}

// Logout ends the session of a refresh token.
func (a *Accounts) Logout(ctx context.Context, token string) error {
	return a.cfg.Sessions.Revoke(ctx, token)
}

// Authenticate turns a bearer credential into a principal: an API key (kiln_…), or an
// access token whose account still exists and is not disabled.
func (a *Accounts) Authenticate(ctx context.Context, bearer string) (*service.Principal, error) {
	if strings.HasPrefix(bearer, KeyPrefix) {
		key, err := a.cfg.Keys.Verify(ctx, bearer)
		if errors.Is(err, ErrInvalidKey) {
			return nil, service.Errorf(service.CodeUnauthorized, "the API key is not valid, revoked or expired")
		}
		if err != nil {
			return nil, err
		}
		// A key does not end by itself; long-lived uses (live-update streams) re-check it
		// every keyRecheck, so a revoked key stops there too.
		exp := a.cfg.Now().Add(keyRecheck)
		if key.ExpiresAt != nil && key.ExpiresAt.Before(exp) {
			exp = *key.ExpiresAt
		}
		return &service.Principal{Role: key.Role, KeyID: key.ID, Scopes: key.Scopes, Expires: exp}, nil
	}
	claims, err := a.cfg.Tokens.Verify(bearer)
	if err != nil {
		return nil, service.Errorf(service.CodeUnauthorized, "the access token is not valid")
	}
	if err := a.checkRevoked(ctx, claims); err != nil {
		return nil, err
	}
	now := a.cfg.Now()
	var exp time.Time
	if claims.ExpiresAt != nil {
		exp = claims.ExpiresAt.Time
	}
	if c, ok := a.roles.Load(claims.Subject); ok && now.Before(c.(cachedRole).expires) {
		return &service.Principal{ID: claims.Subject, Role: c.(cachedRole).role, SessionID: claims.SessionID, Expires: exp}, nil
	}
	rec, err := a.account(ctx, claims.Subject)
	if err != nil {
		return nil, err
	}
	role, _ := a.value(rec, spec.FieldRole).(string)
	a.roles.Store(rec.ID, cachedRole{role: role, expires: now.Add(roleTTL)})
	return &service.Principal{ID: rec.ID, Role: role, SessionID: claims.SessionID, Expires: exp}, nil
}

// JWKS lists the public keys access tokens are signed with (empty for HS256).
func (a *Accounts) JWKS() []JWK { return a.cfg.Tokens.JWKS() }

// Keys is the API key store.
func (a *Accounts) Keys() *Keys { return a.cfg.Keys }

// Me returns the account of a principal.
func (a *Accounts) Me(ctx context.Context, p *service.Principal) (*store.Record, error) {
	if p == nil || p.ID == "" {
		return nil, service.Errorf(service.CodeUnauthorized, "sign in first")
	}
	return a.account(ctx, p.ID)
}

// AccessTokenAt signs an access token for an account as if issued at at (tests use a past
// time for an expired token); it starts no session.
func (a *Accounts) AccessTokenAt(ctx context.Context, accountID string, at time.Time) (string, error) {
	rec, err := a.account(ctx, accountID)
	if err != nil {
		return "", err
	}
	role, _ := a.value(rec, spec.FieldRole).(string)
	return a.cfg.Tokens.IssueAt(rec.ID, []string{role}, "", at)
}

// StartSession logs an account in without a password: for a verified identity from
// elsewhere (an OIDC callback, the CLI, tests).
func (a *Accounts) StartSession(ctx context.Context, accountID string) (*TokenPair, error) {
	rec, err := a.account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return a.start(ctx, rec)
}

func (a *Accounts) start(ctx context.Context, rec *store.Record) (*TokenPair, error) {
	sess, err := a.cfg.Sessions.Start(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	return a.pair(rec, sess)
}

func (a *Accounts) pair(rec *store.Record, sess *Session) (*TokenPair, error) {
	role, _ := a.value(rec, spec.FieldRole).(string)
	access, err := a.cfg.Tokens.IssueAt(rec.ID, []string{role}, sess.FamilyID, sess.IssuedAt)
	if err != nil {
		return nil, err
	}
	return &TokenPair{AccessToken: access, RefreshToken: sess.Token, ExpiresIn: int(a.cfg.Tokens.TTL().Seconds()), User: rec}, nil
}

// account loads an account that may act: it exists and is not disabled.
func (a *Accounts) account(ctx context.Context, id string) (*store.Record, error) {
	rec, err := a.cfg.Store.Reader().Get(ctx, a.resource.Name, id, nil)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.disabled(rec)) {
		return nil, service.Errorf(service.CodeUnauthorized, "the account does not exist or is disabled")
	}
	return rec, err
}

func (a *Accounts) byEmail(ctx context.Context, email string) (*store.Record, error) {
	res, err := a.cfg.Store.Reader().List(ctx, a.resource.Name, query.List{Limit: 1,
		Where: query.Compare{Field: spec.FieldEmail, Op: query.Eq, Value: email}})
	if err != nil || len(res.Records) == 0 {
		return nil, err
	}
	return res.Records[0], nil
}

func (a *Accounts) disabled(rec *store.Record) bool {
	b, _ := a.value(rec, spec.FieldDisabled).(bool)
	return b
}

func (a *Accounts) value(rec *store.Record, field string) any {
	for i, f := range a.resource.Fields {
		if f.Name == field {
			return rec.Values[i]
		}
	}
	return nil
}

func copyMap(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func failureCounterFor(cfg AccountsConfig) failureCounter {
	if cfg.Redis != nil {
		return &sharedFailures{redis: &redisFailures{guard: cfg.Redis, prefix: cfg.RedisPrefix}, local: newFailures(cfg.Now)}
	}
	return newFailures(cfg.Now)
}
