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
}

// Login returns the identity whose credentials match. An unknown e-mail, a
// wrong password, an inactive account and an unreadable stored hash all
// give ErrInvalidCredentials after the same amount of hashing, so the reply
// reveals nothing about the account.
func (s *Service) Login(ctx context.Context, cmd Login) (Identity, error) {
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
		return Identity{}, err
	}
	password := CandidatePassword(cmd.Password)
	if err := s.checkLogin(ctx, email, cmd.Client.IP); err != nil {
		return Identity{}, err
	}

	identity, err := s.store.IdentityByEmail(ctx, email)
	if err != nil {
		if ErrorKind(err) != KindNotFound {
			return Identity{}, err
		}
		if _, _, err := s.hasher.Verify(ctx, password.Plaintext(), s.hasher.DummyHash()); err != nil && ErrorKind(err) != KindInternal {
			return Identity{}, err
		}
		s.audit(ctx, EventLoginFailed, nil, cmd.Client)
		s.loginFailed(ctx, email, cmd.Client.IP)
		return Identity{}, ErrInvalidCredentials
	}

	match, rehash, err := s.hasher.Verify(ctx, password.Plaintext(), identity.PasswordHash)
	if err != nil {
		if ErrorKind(err) != KindInternal {
			return Identity{}, err // e.g. overloaded: the client may retry
		}
		s.log.ErrorContext(ctx, "stored password hash cannot be verified", "identity_id", identity.ID, "error", err)
		match = false
	}
	if !match || identity.State != StateActive {
		s.audit(ctx, EventLoginFailed, &identity.ID, cmd.Client)
		s.loginFailed(ctx, email, cmd.Client.IP)
		return Identity{}, ErrInvalidCredentials
	}
	s.loginSucceeded(ctx, email)
	if rehash {
		s.upgradeHash(ctx, &identity, password)
	}
	if s.mail.RequireVerified && identity.EmailVerifiedAt == nil {
		// Only said after the password matched, so it reveals nothing new.
		return Identity{}, ErrEmailNotVerified
	}
	s.audit(ctx, EventLoginSucceeded, &identity.ID, cmd.Client)
	return identity, nil
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
