package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/google/uuid"
)

// Session is one live login of an identity. It is found by the hash of its
// token; the raw token exists only in the client's cookie.
type Session struct {
	HashedToken string    `json:"-"` // the key; stores keep it out of the value
	CreatedAt   time.Time `json:"created_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	IP          string    `json:"ip"`
	UserAgent   string    `json:"user_agent"`
}

// ID is the session's public id: a hash of the hashed token, so that the
// id shown to the user can neither log in nor name the stored key.
func (s Session) ID() string {
	sum := sha256.Sum256([]byte("authd-session-id:" + s.HashedToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// SessionIndex lists and ends the sessions of an identity on every
// instance. RevokeAll keeps the sessions whose hashed tokens are in keep.
type SessionIndex interface {
	List(ctx context.Context, identityID string, now time.Time) ([]Session, error)
	Revoke(ctx context.Context, identityID, hashedToken string) (bool, error)
	RevokeAll(ctx context.Context, identityID string, keep ...string) (int, error)
}

// ErrSessionNotFound answers a revoke of an id that is not one of the
// caller's live sessions, whether or not it belongs to someone else.
var ErrSessionNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "No such session."}

// Sessions is the query behind GET /auth/sessions.
func (s *Service) Sessions(ctx context.Context, identityID uuid.UUID) ([]Session, error) {
	list, err := s.sessions.List(ctx, identityID.String(), s.now())
	if err != nil {
		return nil, Unavailable("list sessions", err)
	}
	return list, nil
}

// RevokeSession ends one of the identity's sessions by its public id.
func (s *Service) RevokeSession(ctx context.Context, identityID uuid.UUID, sessionID string, c Client) error {
	list, err := s.Sessions(ctx, identityID)
	if err != nil {
		return err
	}
	for _, sess := range list {
		if sess.ID() != sessionID {
			continue
		}
		ok, err := s.sessions.Revoke(ctx, identityID.String(), sess.HashedToken)
		if err != nil {
			return Unavailable("revoke session", err)
		}
		if !ok {
			break // ended meanwhile
		}
		s.audit(ctx, EventSessionRevoked, &identityID, c)
		return nil
	}
	return ErrSessionNotFound
}

// RevokeOtherSessions ends every session of the identity but the one whose
// hashed token is keep, and returns how many it ended.
func (s *Service) RevokeOtherSessions(ctx context.Context, identityID uuid.UUID, keep string, c Client) (int, error) {
	n, err := s.sessions.RevokeAll(ctx, identityID.String(), keep)
	if err != nil {
		return n, Unavailable("revoke sessions", err)
	}
	if n > 0 {
		s.audit(ctx, EventSessionRevoked, &identityID, c)
	}
	return n, nil
}
