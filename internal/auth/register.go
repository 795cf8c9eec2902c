package auth

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Register is the command to create an identity with a password.
type Register struct {
	Email       string
	Password    string
	Username    string
	GeoLocation string
	// EmailField names the request field that carried the e-mail, so that
	// validation errors point at what the client sent ("identifier" or "email").
	EmailField string
	Client     Client
	// Current is the session the client already had, if any; a login
	// replaces it.
	Current Session
}

// Registered is the outcome of a registration. In the default mode the new
// identity is logged in; in the strict mode nobody is, and Identity is
// empty whether or not an account was made.
type Registered struct {
	Identity Identity
	LoggedIn bool
	Session  StartedSession
}

// Register creates an active identity and, in the default mode, logs it
// in; a taken e-mail or username is a conflict. In the strict mode the
// reply is the same for a new and a taken address, whatever the username:
// a new account is made unverified and mailed a verification link, the
// owner of a taken address is mailed instead, and a new address whose
// username is taken is told so by mail (a 409 for the username would say
// that the address is not registered). Every broken field rule is
// reported at once.
func (s *Service) Register(ctx context.Context, cmd Register) (Registered, error) {
	identity, err := s.register(ctx, cmd)
	if !s.strictRegistration {
		if err != nil {
			return Registered{}, err
		}
		// The account exists either way; if its session cannot be written
		// the client learns it (503) and can log in.
		// A new identity is in its first generation: nothing can have
		// changed its credentials yet.
		started, err := s.startSession(ctx, cmd.Current, identity.ID, 0, cmd.Client, passwordProof(s.now().UTC(), false))
		if err != nil {
			return Registered{}, err
		}
		return Registered{Identity: identity, LoggedIn: true, Session: started}, nil
	}
	switch {
	case errors.Is(err, ErrEmailTaken):
		s.mailAccountExists(ctx, cmd)
		return Registered{}, nil
	case errors.Is(err, ErrUsernameTaken):
		return Registered{}, s.mailUsernameTaken(ctx, cmd)
	}
	return Registered{}, err
}

// mailUsernameTaken answers a strict registration whose username is taken
// by mail: to the owner of the address if it has an account (which of the
// two the store found taken first is chance), otherwise to the address, so
// that only its owner learns the username is taken.
func (s *Service) mailUsernameTaken(ctx context.Context, cmd Register) error {
	email, err := ParseEmail(cmd.Email)
	if err != nil {
		return nil // cannot happen: register parsed it
	}
	_, err = s.store.IdentityByEmail(ctx, email)
	switch {
	case err == nil:
		s.mailAccountExists(ctx, cmd)
		return nil
	case ErrorKind(err) != KindNotFound:
		return err
	}
	if !s.mailAllowed(ctx, email) {
		return nil
	}
	username, _ := ParseUsername(cmd.Username)
	err = s.outbox.Queue(ctx, Mail{To: email.String(), Template: "username_taken", Data: map[string]string{
		"Product": s.mail.Product, "Email": email.String(), "Username": username, "Link": s.mail.PublicURL + "/register",
	}})
	if err != nil {
		s.log.ErrorContext(ctx, "username-taken notice not queued", "error", err)
	}
	return nil
}

// mailAccountExists tells the owner of an address that someone tried to
// register with it, within the per-address mail limit.
func (s *Service) mailAccountExists(ctx context.Context, cmd Register) {
	email, err := ParseEmail(cmd.Email)
	if err != nil || !s.mailAllowed(ctx, email) {
		return
	}
	err = s.outbox.Queue(ctx, Mail{To: email.String(), Template: "account_exists", Data: map[string]string{
		"Product": s.mail.Product, "Email": email.String(), "Link": s.mail.PublicURL + "/login",
	}})
	if err != nil {
		s.log.ErrorContext(ctx, "account-exists notice not queued", "error", err)
	}
}

func (s *Service) register(ctx context.Context, cmd Register) (Identity, error) {
	emailField := cmd.EmailField
	if emailField == "" {
		emailField = "identifier"
	}
	var errs fieldErrors
	email, err := ParseEmail(cmd.Email)
	errs.add(emailField, err)
	username, err := ParseUsername(cmd.Username)
	errs.add("username", err)
	geo, err := ParseGeoLocation(cmd.GeoLocation)
	errs.add("geo_location", err)
	password, err := s.policy.Check(cmd.Password, email, username)
	errs.add("password", err)
	if err := errs.err(); err != nil {
		return Identity{}, err
	}
	// A registration shed under load uses up none of the client's limit.
	if err := s.admitHash(); err != nil {
		return Identity{}, err
	}
	if err := s.allowPerIP(ctx, "register", cmd.Client.IP, s.limits.RegisterPerIP); err != nil {
		return Identity{}, err
	}

	hash, err := s.hasher.Hash(ctx, password.Plaintext())
	if err != nil {
		return Identity{}, hashFailure(err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Identity{}, Internal("register: new id", err)
	}
	// PostgreSQL keeps microseconds; the reply should match what /me reads back.
	now := s.now().UTC().Truncate(time.Microsecond)
	identity := Identity{
		ID:           id,
		Email:        email,
		Username:     username,
		GeoLocation:  geo,
		PasswordHash: hash,
		State:        StateActive,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := s.store.CreateIdentity(ctx, identity); err != nil {
		return Identity{}, err
	}
	s.audit(ctx, EventRegistered, &identity.ID, cmd.Client)
	// The account exists either way; a verification mail that could not
	// be queued can be asked for again with /auth/verify/link.
	if err := s.sendVerification(ctx, identity); err != nil {
		s.log.ErrorContext(ctx, "verification mail not queued", "identity_id", identity.ID, "error", err)
	}
	return identity, nil
}

// hashFailure keeps domain errors from the hasher (such as "overloaded")
// and treats anything else as internal.
func hashFailure(err error) error {
	if ErrorKind(err) != KindInternal {
		return err
	}
	return Internal("hash password", err)
}
