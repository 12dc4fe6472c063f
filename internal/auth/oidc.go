package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

// loginTTL bounds how long a started login may take, and the state cookie's life.
const loginTTL = 10 * time.Minute

// OIDC runs "log in with" flows: authorization code with PKCE, state and nonce, the ID token
// verified against the provider's keys, and accounts linked by verified email.
type OIDC struct {
	accounts  *Accounts
	secret    []byte
	basePath  string
	publicURL string
	now       func() time.Time
	providers map[string]*oidcProvider
}

type oidcProvider struct {
	cfg      *spec.Provider
	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use, so a provider that is down never stops start-up
}

// emailClaims are the claims Kiln links accounts by.
type emailClaims struct {
	Email    string `json:"email"`
	Verified bool   `json:"email_verified"`
}

// loginState travels in a signed, HttpOnly cookie between start and callback.
type loginState struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Nonce    string `json:"n"`
	Expires  int64  `json:"e"`
}

// NewOIDC prepares the spec's providers; secret signs the state cookie.
func NewOIDC(s *spec.Spec, accounts *Accounts, secret []byte, now func() time.Time) *OIDC {
	if now == nil {
		now = time.Now
	}
	o := &OIDC{accounts: accounts, secret: secret, basePath: s.Server.BasePath, publicURL: s.Auth.PublicURL,
		now: now, providers: map[string]*oidcProvider{}}
	for _, p := range s.Auth.Providers {
		o.providers[p.Name] = &oidcProvider{cfg: p}
	}
	return o
}

// Enabled reports whether any provider is configured.
func (o *OIDC) Enabled() bool { return len(o.providers) > 0 }

func (o *OIDC) callbackURL(name string) string {
	return o.publicURL + o.basePath + "/auth/oauth/" + name + "/callback"
}

func (o *OIDC) cookieName(name string) string { return "kiln_oauth_" + name }

// providerRetryAfter is the Retry-After, in seconds, of a login whose provider could not be
// reached (its discovery document).
const providerRetryAfter = 10

func (o *OIDC) config(ctx context.Context, name string) (*oauth2.Config, *oidc.Provider, error) {
	p := o.providers[name]
	if p == nil {
		return nil, nil, service.Errorf(service.CodeNotFound, "no login provider %q", name)
	}
	if p.cfg.GitHub {
		return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, RedirectURL: o.callbackURL(name),
			Scopes: p.cfg.Scopes, Endpoint: oauth2.Endpoint{AuthURL: p.cfg.AuthURL, TokenURL: p.cfg.TokenURL}}, nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider == nil {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		prov, err := oidc.NewProvider(dctx, p.cfg.Issuer)
		if err != nil { // the provider's outage, not Kiln's fault: 503 to retry, the cause logged
			return nil, nil, &service.Error{Code: service.CodeUnavailable, RetryAfter: providerRetryAfter,
				Message: "the login provider " + name + " cannot be reached: try again later",
				Cause:   fmt.Errorf("discover %s: %w", p.cfg.Name, err)}
		}
		p.provider = prov
	}
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: p.provider.Endpoint(),
		RedirectURL: o.callbackURL(name), Scopes: p.cfg.Scopes}, p.provider, nil
}

// Start begins a login: it sets the state cookie and returns the provider URL to redirect to.
func (o *OIDC) Start(w http.ResponseWriter, r *http.Request, name string) (string, error) {
	conf, _, err := o.config(r.Context(), name)
	if err != nil {
		return "", err
	}
	st := loginState{State: random(), Verifier: oauth2.GenerateVerifier(), Nonce: random(), Expires: o.now().Add(loginTTL).Unix()}
	http.SetCookie(w, &http.Cookie{Name: o.cookieName(name), Value: o.seal(st), Path: o.basePath + "/auth/oauth/" + name,
		MaxAge: int(loginTTL.Seconds()), HttpOnly: true, Secure: strings.HasPrefix(o.publicURL, "https://"), SameSite: http.SameSiteLaxMode})
	return conf.AuthCodeURL(st.State, oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce)), nil
}

// Callback finishes a login and issues Kiln's own token pair.
func (o *OIDC) Callback(w http.ResponseWriter, r *http.Request, name string) (*TokenPair, error) {
	conf, prov, err := o.config(r.Context(), name)
	if err != nil {
		return nil, err
	}
	st, err := o.checkState(r, name)
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{Name: o.cookieName(name), Value: "", Path: o.basePath + "/auth/oauth/" + name, MaxAge: -1, HttpOnly: true})
	tok, err := conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, service.Errorf(service.CodeUnauthorized, "the provider did not accept the login code")
	}
	if p := o.providers[name]; p.cfg.GitHub {
		email, err := githubEmail(r.Context(), conf.Client(r.Context(), tok), p.cfg.APIURL)
		if err != nil {
			return nil, err
		}
		return o.accounts.loginVerifiedEmail(r.Context(), email)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(r.Context(), raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, service.Errorf(service.CodeUnauthorized, "the provider's ID token is not valid")
	}
	var claims emailClaims
	if err := idt.Claims(&claims); err != nil || claims.Email == "" {
		// Many providers put the email in the userinfo answer rather than the ID token.
		ui, err := prov.UserInfo(r.Context(), oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != idt.Subject || ui.Claims(&claims) != nil || claims.Email == "" {
			return nil, service.Errorf(service.CodeForbidden, "the provider did not share an email address")
		}
	}
	if !claims.Verified {
		return nil, service.Errorf(service.CodeForbidden, "the provider has not verified this email address")
	}
	return o.accounts.loginVerifiedEmail(r.Context(), claims.Email)
}

func (o *OIDC) checkState(r *http.Request, name string) (*loginState, error) {
	bad := service.Errorf(service.CodeUnauthorized, "the login expired or did not start here: start it again")
	if e := r.URL.Query().Get("error"); e != "" {
		return nil, service.Errorf(service.CodeUnauthorized, "the provider refused the login")
	}
	c, err := r.Cookie(o.cookieName(name))
	if err != nil {
		return nil, bad
	}
	st, ok := o.open(c.Value)
	q := r.URL.Query().Get("state")
	if !ok || st.Expires < o.now().Unix() || subtle.ConstantTimeCompare([]byte(q), []byte(st.State)) != 1 {
		return nil, bad
	}
	return st, nil
}

func (o *OIDC) seal(st loginState) string {
	body, _ := json.Marshal(st)
	enc := base64.RawURLEncoding.EncodeToString(body)
	return enc + "." + o.mac(enc)
}

func (o *OIDC) open(v string) (*loginState, bool) {
	enc, sig, ok := strings.Cut(v, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(o.mac(enc))) {
		return nil, false
	}
	body, err := base64.RawURLEncoding.DecodeString(enc)
	var st loginState
	if err != nil || json.Unmarshal(body, &st) != nil {
		return nil, false
	}
	return &st, true
}

func (o *OIDC) mac(s string) string {
	m := hmac.New(sha256.New, o.secret)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// loginVerifiedEmail signs in the account with a provider-verified email, creating it when
// sign-up is open. The account is marked verified.
func (a *Accounts) loginVerifiedEmail(ctx context.Context, email string) (*TokenPair, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	rec, err := a.byEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		if a.cfg.Spec.Auth.Signup != "open" {
			return nil, service.Errorf(service.CodeForbidden, "no account has this email and sign-up is not open")
		}
		rec, err = a.cfg.Service.Create(service.AsSystem(ctx), a.resource.Name,
			map[string]any{spec.FieldEmail: email, spec.FieldVerified: true}, service.WriteOpts{})
		if err != nil {
			return nil, err
		}
	}
	if a.disabled(rec) {
		return nil, service.Errorf(service.CodeUnauthorized, "the account is disabled")
	}
	return a.start(ctx, rec)
}
