package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ChangePassword is the command behind PUT /auth/settings with method
// "password".
type ChangePassword struct {
	// Session is the caller's: inside the privileged window after it was
	// authenticated the current password is not asked again; it survives
	// the change with a new token, and every other session is ended.
	Session         Session
	Password        string
	CurrentPassword string
	Client          Client
}

// PasswordChanged is a changed password and the caller's renewed session.
type PasswordChanged struct {
	Identity Identity
	Session  StartedSession
}

// ErrReauthRequired tells the SPA to ask for the current password (or a
// fresh login) before changing the password.
var ErrReauthRequired = &Error{Kind: KindForbidden, Code: CodeReauthRequired,
	Message: "Confirm your current password to change it."}

// ChangePassword sets a new password after checking the current one (or a
// recent login), voids pending recovery links, mails the owner a notice,
// ends every other session of the identity and gives the caller's session
// a new token: a privilege change.
func (s *Service) ChangePassword(ctx context.Context, cmd ChangePassword) (PasswordChanged, error) {
	if !cmd.Session.Live() {
		return PasswordChanged{}, ErrUnauthenticated
	}
	if err := s.admitHash(); err != nil {
		return PasswordChanged{}, err
	}
	// The highest level the account has, always; the current password
	// stands in only for a recent login.
	p, err := s.elevated(ctx, cmd.Session)
	if err != nil {
		return PasswordChanged{}, err
	}
	identity := p.Identity
	password, err := s.policy.Check(cmd.Password, identity.Email, identity.Username)
	if err != nil {
		return PasswordChanged{}, invalidField("password", err)
	}
	if cmd.CurrentPassword != "" {
		// A stolen session must not become a way to guess the password.
		attempt, err := s.reserveLogin(ctx, identity.Email, cmd.Client.IP)
		if err != nil {
			return PasswordChanged{}, err
		}
		match, _, err := s.verify(ctx, CandidatePassword(cmd.CurrentPassword), identity.PasswordHash, identity.ID, true)
		if err != nil {
			s.loginReleased(ctx, attempt)
			return PasswordChanged{}, err
		}
		if !match {
			s.loginFailed(ctx, attempt)
			return PasswordChanged{}, Invalid(FieldError{Field: "current_password", Code: "incorrect", Message: "The current password is incorrect."})
		}
		s.loginReleased(ctx, attempt)
	} else if s.now().Sub(cmd.Session.AuthenticatedAt) > s.privilegedWindow {
		return PasswordChanged{}, ErrReauthRequired
	}

	hash, err := s.hasher.Hash(ctx, password.Plaintext())
	if err != nil {
		return PasswordChanged{}, hashFailure(err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	// The new hash, the end of every recovery link mailed before (it would
	// undo the change), and the owner's notice: all or nothing.
	err = s.tx.InTx(ctx, func(st Stores) error {
		if err := st.Identities.UpdatePasswordHash(ctx, identity.ID, hash, now); err != nil {
			return err
		}
		if err := st.Tokens.Void(ctx, identity.ID, PurposeRecovery, now); err != nil {
			return err
		}
		return st.Outbox.Queue(ctx, s.passwordChangedNotice(identity))
	})
	if err != nil {
		return PasswordChanged{}, err
	}
	identity.PasswordHash, identity.UpdatedAt = hash, now
	s.profileChanged(ctx, identity.ID)
	// A new generation: no login that checked the old password can start
	// a session after this, even one still hashing now.
	generation, _, err := s.sessions.EndGeneration(ctx, identity.ID, cmd.Session.Key)
	if err != nil {
		// The password is changed; the stolen session an attacker may hold
		// must not survive silently, so the caller learns of it.
		return PasswordChanged{}, Unavailable("revoke other sessions after password change", err)
	}
	// The renewed session is this client's, in the new generation, with
	// its details as of this request.
	current := cmd.Session
	current.IP, current.UserAgent, current.Generation = cmd.Client.IP, cmd.Client.UserAgent, generation
	renewed, err := s.sessions.Renew(ctx, current, s.now().UTC())
	if err != nil {
		return PasswordChanged{}, Unavailable("renew session after password change", err)
	}
	s.audit(ctx, EventPasswordChanged, &identity.ID, cmd.Client)
	return PasswordChanged{Identity: identity, Session: renewed}, nil
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
