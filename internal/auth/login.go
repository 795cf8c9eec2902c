package auth

import (
	"context"
	"log/slog"
)

// Login is the command to authenticate with an e-mail and a password.
type Login struct {
	Identifier string
	Password   string
	Client     Client
	// Current is the session the client already had, if any; it is ended
	// and replaced, never reused.
	Current Session
}

// LoggedIn is a successful login: the identity and its new session.
type LoggedIn struct {
	Identity Identity
	Session  StartedSession
}

// Login checks the credentials and starts a session. An unknown e-mail, a
// wrong password, an inactive account and an unreadable stored hash all
// give ErrInvalidCredentials after the same work (one hash verification,
// one identity lookup, the same throttle calls), so the reply reveals
// nothing about the account. Success is recorded (audit, lock-out reset)
// only once the session is written.
func (s *Service) Login(ctx context.Context, cmd Login) (LoggedIn, error) {
	var errs fieldErrors
	email, err := ParseEmail(cmd.Identifier)
	errs.add("identifier", err)
	if cmd.Password == "" {
		errs.add("password", &RuleError{"required", "A password is required."})
	} else if len(cmd.Password) > maxPasswordBytes {
		// No stored password can be this long; refuse before hashing it.
		errs.add("password", &RuleError{"password_too_long", "The password must be at most 128 characters."})
	}
	if err := errs.err(); err != nil {
		return LoggedIn{}, err
	}
	password := CandidatePassword(cmd.Password)
	if err := s.checkLogin(ctx, email, cmd.Client.IP); err != nil {
		return LoggedIn{}, err
	}

	identity, err := s.store.IdentityByEmail(ctx, email)
	known := err == nil
	if err != nil && ErrorKind(err) != KindNotFound {
		return LoggedIn{}, err
	}
	stored := s.hasher.DummyHash()
	if known {
		stored = identity.PasswordHash
	}
	match, rehash, err := s.hasher.Verify(ctx, password.Plaintext(), stored)
	if err != nil {
		if ErrorKind(err) != KindInternal {
			return LoggedIn{}, err // e.g. overloaded: the client may retry
		}
		if known {
			s.log.ErrorContext(ctx, "stored password hash cannot be verified", "identity_id", identity.ID, "error", err)
		}
		match = false
	}
	if !known || !match || identity.State != StateActive {
		var who = &identity.ID
		if !known {
			who = nil
		}
		s.audit(ctx, EventLoginFailed, who, cmd.Client)
		s.loginFailed(ctx, email, cmd.Client.IP)
		return LoggedIn{}, ErrInvalidCredentials
	}
	if s.mail.RequireVerified && identity.EmailVerifiedAt == nil {
		// Only said after the password matched, so it reveals nothing new.
		return LoggedIn{}, ErrEmailNotVerified
	}
	started, err := s.startSession(ctx, cmd.Current, identity.ID, cmd.Client)
	if err != nil {
		return LoggedIn{}, err
	}
	s.loginSucceeded(ctx, email)
	if rehash {
		s.upgradeHash(ctx, &identity, password)
	}
	s.audit(ctx, EventLoginSucceeded, &identity.ID, cmd.Client)
	return LoggedIn{Identity: identity, Session: started}, nil
}

// upgradeHash replaces a hash made with old parameters or an imported
// algorithm. A failure is logged, not returned: the login itself succeeded.
func (s *Service) upgradeHash(ctx context.Context, identity *Identity, password Password) {
	hash, err := s.hasher.Hash(ctx, password.Plaintext())
	if err == nil {
		err = s.store.UpdatePasswordHash(ctx, identity.ID, hash, s.now().UTC())
	}
	if err != nil {
		s.log.WarnContext(ctx, "password re-hash failed", slog.String("identity_id", identity.ID.String()), slog.Any("error", err))
		return
	}
	identity.PasswordHash = hash
}
