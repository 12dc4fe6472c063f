package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/revocation"
	"github.com/kiln-dev/kiln/internal/store"
)

// Session errors. Both mean 401 to a client; ErrRefreshReused has also revoked the family.
var (
	ErrInvalidRefresh = errors.New("invalid refresh token")
	ErrRefreshReused  = errors.New("refresh token reused: session family revoked")
)

// SessionConfig configures refresh-token sessions.
type SessionConfig struct {
	// Secret derives each rotated token from its predecessor, so a concurrent refresh inside
	// the grace window can be answered with the same new token without storing it.
	Secret []byte
	TTL    time.Duration // refresh token lifetime; default 30 days
	Grace  time.Duration // window in which a rotated token still yields the same successor; default 10 s
	Now    func() time.Time
	// Revocations, when set, hears of every revoked session, so access tokens of the session
	// are refused on every instance too (not only its refresh tokens).
	Revocations *revocation.List
}

// Sessions issues, rotates and revokes refresh tokens, stored hashed in the sessions table.
type Sessions struct {
	st  *store.Store
	cfg SessionConfig
}

// Session is one refresh token's row, as rotation reports it.
type Session struct {
	FamilyID  string
	AccountID string
	Token     string    // the plaintext refresh token, shown to the client once
	IssuedAt  time.Time // when this token was issued (the rotation time for a successor)
}

// NewSessions builds the session manager.
func NewSessions(cfg SessionConfig, st *store.Store) (*Sessions, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("session secret must be at least %d bytes", MinSecretLen)
	}
	if cfg.TTL == 0 {
		cfg.TTL = 30 * 24 * time.Hour
	}
	if cfg.Grace == 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sessions{st: st, cfg: cfg}, nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// successor derives the token that replaces the one with hash h.
func (s *Sessions) successor(h string) string {
	mac := hmac.New(sha256.New, s.cfg.Secret)
	mac.Write([]byte("kiln-refresh-v1:" + h))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// Start opens a session family for an account (a login) and returns its first refresh token.
func (s *Sessions) Start(ctx context.Context, accountID string) (*Session, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("refresh token: %w", err)
	}
	now := s.cfg.Now()
	sess := &Session{FamilyID: uuid.Must(uuid.NewV7()).String(), AccountID: accountID,
		Token: base64.RawURLEncoding.EncodeToString(b[:]), IssuedAt: now}
	err := s.st.InTx(ctx, func(tx *store.Exec) error { return s.insert(ctx, tx, sess, now) })
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	return sess, nil
}

func (s *Sessions) insert(ctx context.Context, tx *store.Exec, sess *Session, now time.Time) error {
	return tx.ExecRaw(ctx, "INSERT INTO kiln_sessions (token_hash, family_id, account_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		hashToken(sess.Token), sess.FamilyID, sess.AccountID, micros(now), micros(now.Add(s.cfg.TTL)))
}

// Rotate exchanges a refresh token for its successor. A token already rotated within the
// grace window yields the same successor (concurrent refreshes agree); later reuse revokes the
// whole family and fails with ErrRefreshReused.
func (s *Sessions) Rotate(ctx context.Context, token string) (*Session, error) {
	if len(token) == 0 || len(token) > 256 {
		return nil, ErrInvalidRefresh
	}
	h := hashToken(token)
	now := s.cfg.Now()
	var out *Session
	reused := false
	var revoked []revocation.Entry
	err := s.st.InTx(ctx, func(tx *store.Exec) error {
		out, reused, revoked = nil, false, nil // InTx may run this again
		won, err := tx.ExecRawCount(ctx, "UPDATE kiln_sessions SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
			micros(now), h, micros(now))
		if err != nil {
			return err
		}
		row, err := s.load(ctx, tx, h)
		if err != nil {
			return err
		}
		next := &Session{FamilyID: row.family, AccountID: row.account, Token: s.successor(h)}
		switch {
		case won == 1:
			next.IssuedAt = now
			out = next
			return s.insert(ctx, tx, next, now)
		case row.revoked || row.expires <= micros(now) || row.rotated == 0:
			return ErrInvalidRefresh
		case micros(now)-row.rotated <= s.cfg.Grace.Microseconds():
			next.IssuedAt = time.UnixMicro(row.rotated)
			out = next
			return nil
		}
		reused = true
		revoked, err = s.revokeFamilies(ctx, tx, []string{row.family}, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.applied(revoked)
	if reused {
		return nil, ErrRefreshReused
	}
	return out, nil
}

type sessionRow struct {
	family, account  string
	expires, rotated int64
	revoked          bool
}

func (s *Sessions) load(ctx context.Context, tx *store.Exec, h string) (*sessionRow, error) {
	rows, err := tx.QueryRaw(ctx, "SELECT family_id, account_id, expires_at, COALESCE(rotated_at, 0), revoked_at IS NOT NULL FROM kiln_sessions WHERE token_hash = ?", h)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, ErrInvalidRefresh
	}
	var r sessionRow
	if err := rows.Scan(&r.family, &r.account, &r.expires, &r.rotated, &r.revoked); err != nil {
		return nil, err
	}
	return &r, rows.Err()
}

// revokeFamilies revokes every token of the families and records the revocations; it must be
// the last step of tx.
func (s *Sessions) revokeFamilies(ctx context.Context, tx *store.Exec, families []string, now time.Time) ([]revocation.Entry, error) {
	entries := make([]revocation.Entry, 0, len(families))
	for _, family := range families {
		if tx.LocksRows() {
			// Wait for a rotation of the family in flight (it holds its token's row) before the
			// UPDATE takes its snapshot: an UPDATE that waited would re-check only the rows it
			// saw, and leave the successor the rotation inserted live after a logout.
			if err := tx.ExecRaw(ctx, "SELECT 1 FROM kiln_sessions WHERE family_id = ? FOR UPDATE", family); err != nil {
				return nil, err
			}
		}
		if err := tx.ExecRaw(ctx, "UPDATE kiln_sessions SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL", micros(now), family); err != nil {
			return nil, err
		}
		entries = append(entries, revocation.Entry{Kind: revocation.KindSession, Subject: family, At: now})
	}
	if s.cfg.Revocations == nil {
		return nil, nil
	}
	return entries, s.cfg.Revocations.RecordTx(ctx, tx, entries...)
}

// applied tells this instance's revocation list about committed revocations.
func (s *Sessions) applied(entries []revocation.Entry) {
	if s.cfg.Revocations != nil && len(entries) > 0 {
		s.cfg.Revocations.Applied(entries)
	}
}

// Revoke ends the session the token belongs to (logout): its refresh tokens at once, its
// access tokens on every instance within the revocation bound. Unknown tokens are not an
// error: logging out twice is fine.
func (s *Sessions) Revoke(ctx context.Context, token string) error {
	h := hashToken(token)
	var revoked []revocation.Entry
	err := s.st.InTx(ctx, func(tx *store.Exec) error {
		revoked = nil
		row, err := s.load(ctx, tx, h)
		if errors.Is(err, ErrInvalidRefresh) {
			return nil
		}
		if err != nil {
			return err
		}
		revoked, err = s.revokeFamilies(ctx, tx, []string{row.family}, s.cfg.Now())
		return err
	})
	if err == nil {
		s.applied(revoked)
	}
	return err
}

// RevokeAccount ends every session of an account except the family keep (a password change);
// keep "" ends them all (a reset, a disabled account).
func (s *Sessions) RevokeAccount(ctx context.Context, accountID, keep string) error {
	var revoked []revocation.Entry
	err := s.st.InTx(ctx, func(tx *store.Exec) error {
		families, err := s.liveFamilies(ctx, tx, accountID, keep)
		if err != nil {
			return err
		}
		revoked, err = s.revokeFamilies(ctx, tx, families, s.cfg.Now())
		return err
	})
	if err == nil {
		s.applied(revoked)
	}
	return err
}

func (s *Sessions) liveFamilies(ctx context.Context, tx *store.Exec, accountID, keep string) ([]string, error) {
	rows, err := tx.QueryRaw(ctx, "SELECT DISTINCT family_id FROM kiln_sessions WHERE account_id = ? AND family_id <> ? AND revoked_at IS NULL",
		accountID, keep)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Active reports whether a session family is still usable (not revoked).
func (s *Sessions) Active(ctx context.Context, family string) (bool, error) {
	rows, err := s.st.Reader().QueryRaw(ctx, "SELECT COUNT(*) FROM kiln_sessions WHERE family_id = ? AND revoked_at IS NULL", family)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var n int
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return false, err
		}
	}
	return n > 0, rows.Err()
}
