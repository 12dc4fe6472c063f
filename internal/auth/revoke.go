package auth

import (
	"context"
	"errors"
	"time"

	"github.com/kiln-dev/kiln/internal/revocation"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/store"
)

// changeTimeout bounds the revocation writes that follow an account change (the service
// reports changes after commit, without the request's context).
const changeTimeout = 10 * time.Second

// checkRevoked refuses an access token whose session was revoked or whose account's tokens
// were cut off (docs/scaling.md: every instance within the bound).
func (a *Accounts) checkRevoked(ctx context.Context, c *Claims) error {
	if a.cfg.Revocations == nil {
		return nil
	}
	var iat time.Time
	if c.IssuedAt != nil {
		iat = c.IssuedAt.Time
	}
	revoked, err := a.cfg.Revocations.Revoked(ctx, c.SessionID, c.Subject, iat)
	if err != nil {
		return err
	}
	if revoked {
		return service.Errorf(service.CodeUnauthorized, "the session has ended: log in again")
	}
	return nil
}

// AccountChanged is told (by the service, after commit) that an account was written. Every
// instance drops its cached role; a disabled or deleted account also loses every session and
// every access token issued so far, so enabling it again revives none of them.
func (a *Accounts) AccountChanged(id string) {
	a.Forget(id)
	if a.cfg.Revocations == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), changeTimeout)
	defer cancel()
	if err := a.accountChanged(ctx, id); err != nil && a.cfg.Logger != nil {
		// The role cache of other instances still expires within roleTTL.
		a.cfg.Logger.Error("account change not propagated", "account_id", id, "cause", err.Error())
	}
}

func (a *Accounts) accountChanged(ctx context.Context, id string) error {
	now := a.cfg.Now()
	entries := []revocation.Entry{{Kind: revocation.KindAccount, Subject: id, At: now}}
	rec, err := a.cfg.Store.Reader().Get(ctx, a.resource.Name, id, nil)
	gone := errors.Is(err, store.ErrNotFound)
	if err != nil && !gone {
		return err
	}
	if gone || a.disabled(rec) {
		if err := a.cfg.Sessions.RevokeAccount(ctx, id, ""); err != nil {
			return err
		}
		entries = append(entries, revocation.Entry{Kind: revocation.KindAccountTokens, Subject: id, At: now})
	}
	return a.cfg.Revocations.Record(ctx, entries...)
}
