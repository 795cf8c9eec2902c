package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ChangePassword is the command behind PUT /auth/settings with method
// "password".
type ChangePassword struct {
	IdentityID      uuid.UUID
	Password        string
	CurrentPassword string
	// AuthenticatedAt is when the session last proved the password; inside
	// the privileged window the current password is not asked again.
	AuthenticatedAt time.Time
	// KeepSession is the hashed token of the caller's session, which
	// survives; every other session of the identity is ended.
	KeepSession string
	Client      Client
}

// ErrReauthRequired tells the SPA to ask for the current password (or a
// fresh login) before changing the password.
var ErrReauthRequired = &Error{Kind: KindForbidden, Code: CodeReauthRequired,
	Message: "Confirm your current password to change it."}

// ChangePassword sets a new password after checking the current one (or a
// recent login), then ends every other session of the identity.
func (s *Service) ChangePassword(ctx context.Context, cmd ChangePassword) (Identity, error) {
	identity, err := s.activeIdentity(ctx, cmd.IdentityID)
	if err != nil {
		return Identity{}, err
	}
	password, err := s.policy.Check(cmd.Password, identity.Email, identity.Username)
	if err != nil {
		return Identity{}, Invalid(err.(*RuleError).Field("password"))
	}
	if cmd.CurrentPassword != "" {
		// A stolen session must not become a way to guess the password.
		if err := s.checkLogin(ctx, identity.Email, cmd.Client.IP); err != nil {
			return Identity{}, err
		}
		match, _, err := s.hasher.Verify(ctx, CandidatePassword(cmd.CurrentPassword).Plaintext(), identity.PasswordHash)
		if err != nil && ErrorKind(err) != KindInternal {
			return Identity{}, err
		}
		if !match {
			s.loginFailed(ctx, identity.Email, cmd.Client.IP)
			return Identity{}, Invalid(FieldError{Field: "current_password", Code: "incorrect", Message: "The current password is incorrect."})
		}
	} else if s.now().Sub(cmd.AuthenticatedAt) > s.privilegedWindow {
		return Identity{}, ErrReauthRequired
	}

	hash, err := s.hasher.Hash(ctx, password.Plaintext())
	if err != nil {
		return Identity{}, hashFailure(err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	if err := s.store.UpdatePasswordHash(ctx, identity.ID, hash, now); err != nil {
		return Identity{}, err
	}
	identity.PasswordHash, identity.UpdatedAt = hash, now
	s.audit(ctx, EventPasswordChanged, &identity.ID, cmd.Client)
	if _, err := s.sessions.RevokeAll(ctx, identity.ID.String(), cmd.KeepSession); err != nil {
		// The password is changed; the stolen session an attacker may hold
		// must not survive silently, so the caller learns of it.
		return Identity{}, Unavailable("revoke other sessions after password change", err)
	}
	s.profileChanged(ctx, identity.ID)
	return identity, nil
}

// activeIdentity loads the identity behind a session.
func (s *Service) activeIdentity(ctx context.Context, id uuid.UUID) (Identity, error) {
	identity, err := s.store.IdentityByID(ctx, id)
	if err != nil {
		if ErrorKind(err) == KindNotFound {
			return Identity{}, ErrUnauthenticated
		}
		return Identity{}, err
	}
	if identity.State != StateActive {
		return Identity{}, ErrUnauthenticated
	}
	return identity, nil
}
