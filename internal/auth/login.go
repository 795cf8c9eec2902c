package auth

import (
	"context"
	"errors"
	"log/slog"

	"github.com/google/uuid"
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

// LoggedIn is a successful login: the identity, its factors and its new
// session. When the identity has a second factor the session is only
// pending (Session.SecondFactorPending) until the second step.
type LoggedIn struct {
	Identity Identity
	Factors  Factors
	Session  StartedSession
}

// Login checks the credentials and starts a session. An unknown e-mail, a
// wrong password, an inactive account and an unreadable stored hash all
// give ErrInvalidCredentials after the same work (one hash verification,
// one identity lookup, the same throttle calls), so the reply reveals
// nothing about the account. The attempt is reserved against the lock-outs
// before anything is looked at, and success is recorded (audit, lock-out
// reset) only once the session is written.
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
	// Shed before anything else: a refused login costs no throttle or
	// store work, and counts as no attempt.
	if err := s.admitHash(); err != nil {
		return LoggedIn{}, err
	}
	attempt, err := s.reserveLogin(ctx, email, cmd.Client.IP)
	if err != nil {
		return LoggedIn{}, err
	}
	out, err := s.login(ctx, cmd, email, password)
	switch {
	case err == nil && out.Session.SecondFactorPending:
		// Half a login: the failures counted against the account stay
		// until the second factor is proved too, or a known password
		// would reset the lock-out that bounds guesses of the second
		// factor.
		s.loginReleased(ctx, attempt)
		s.audit(ctx, EventLoginPasswordVerified, &out.Identity.ID, cmd.Client)
	case err == nil:
		s.loginSucceeded(ctx, attempt)
		s.audit(ctx, EventLoginSucceeded, &out.Identity.ID, cmd.Client)
	case errors.Is(err, ErrInvalidCredentials):
		s.loginFailed(ctx, attempt)
	default:
		// Not a guess that failed: the check could not be made, or the
		// password was right but the address is not verified.
		s.loginReleased(ctx, attempt)
	}
	return out, err
}

// login is Login once the attempt is reserved.
func (s *Service) login(ctx context.Context, cmd Login, email Email, password Password) (LoggedIn, error) {
	identity, err := s.store.IdentityByEmail(ctx, email)
	known := err == nil
	if err != nil && ErrorKind(err) != KindNotFound {
		return LoggedIn{}, err
	}
	stored := s.hasher.DummyHash()
	if known {
		stored = identity.PasswordHash
	}
	match, rehash, err := s.verify(ctx, password, stored, identity.ID, known)
	if err != nil {
		return LoggedIn{}, err
	}
	if !known || !match || identity.State != StateActive || identity.PasswordHash == "" {
		s.loginFailedAudit(ctx, identity.ID, known, cmd.Client)
		return LoggedIn{}, ErrInvalidCredentials
	}
	if s.mail.RequireVerified && identity.EmailVerifiedAt == nil {
		// Only said after the password matched, so it reveals nothing new.
		return LoggedIn{}, ErrEmailNotVerified
	}
	// The password was checked against a hash read before hashing, tens of
	// milliseconds ago. The generation read now, then the hash read again,
	// make sure a reset or change that committed meanwhile is seen here or
	// ends the session Start writes (see Sessions).
	generation, err := s.sessions.Generation(ctx, identity.ID)
	if err != nil {
		return LoggedIn{}, Unavailable("session generation", err)
	}
	if ok, err := s.stillValid(ctx, &identity, password); err != nil || !ok {
		if err != nil {
			return LoggedIn{}, err
		}
		s.loginFailedAudit(ctx, identity.ID, true, cmd.Client)
		return LoggedIn{}, ErrInvalidCredentials
	}
	factors, err := s.factorsOf(ctx, s.factors, identity)
	if err != nil {
		return LoggedIn{}, err
	}
	p := passwordProof(s.now().UTC(), factors.HasSecondFactor())
	started, err := s.startSession(ctx, cmd.Current, identity.ID, generation, cmd.Client, p)
	if errors.Is(err, ErrStaleGeneration) {
		s.loginFailedAudit(ctx, identity.ID, true, cmd.Client)
		return LoggedIn{}, ErrInvalidCredentials
	}
	if err != nil {
		return LoggedIn{}, err
	}
	if rehash {
		s.upgradeHash(ctx, &identity, password)
	}
	return LoggedIn{Identity: identity, Factors: factors, Session: started}, nil
}

// verify checks the password against stored. An unreadable stored hash is
// a mismatch (and logged); only a failure the client may retry, such as an
// overloaded hash pool, is an error.
func (s *Service) verify(ctx context.Context, password Password, stored string, id uuid.UUID, known bool) (match, rehash bool, err error) {
	if stored == "" {
		// An identity without a password (imported from a social login):
		// the same work as a wrong password, and no match.
		stored, known = s.hasher.DummyHash(), false
	}
	match, rehash, err = s.hasher.Verify(ctx, password.Plaintext(), stored)
	if err != nil {
		if ErrorKind(err) != KindInternal {
			return false, false, err
		}
		if known {
			s.log.ErrorContext(ctx, "stored password hash cannot be verified", "identity_id", id, "error", err)
		}
		return false, false, nil
	}
	return match, rehash, nil
}

// stillValid reads the identity again and says whether the password just
// checked is still its password and the account still active. A hash that
// changed is checked again: a re-hash with new parameters keeps the
// password.
func (s *Service) stillValid(ctx context.Context, identity *Identity, password Password) (bool, error) {
	now, err := s.store.IdentityByID(ctx, identity.ID)
	if ErrorKind(err) == KindNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if now.State != StateActive {
		return false, nil
	}
	if now.PasswordHash != identity.PasswordHash {
		match, _, err := s.verify(ctx, password, now.PasswordHash, now.ID, true)
		if err != nil || !match {
			return false, err
		}
	}
	*identity = now
	return true, nil
}

func (s *Service) loginFailedAudit(ctx context.Context, id uuid.UUID, known bool, c Client) {
	who := &id
	if !known {
		who = nil
	}
	s.audit(ctx, EventLoginFailed, who, c)
}

// admitHash refuses at once, as the hash itself would, a request whose
// hash the pool would shed now.
func (s *Service) admitHash() error {
	if err := s.hasher.Admit(); err != nil {
		return hashFailure(err)
	}
	return nil
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
