package auth

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// The admin use cases on identities, behind /admin/v1/identities and
// `authd admin identities`. Each records an audit event naming its Actor,
// also when it only reads.

// HashFormats tells whether authd can verify a password hash made
// elsewhere (a PHC Argon2 string or a bcrypt hash), without verifying
// anything: an operator's import must not cost a hash of unknown cost.
type HashFormats interface {
	CheckHash(encoded string) error
}

// GetIdentity is the query behind GET /admin/v1/identities/{id}.
func (s *Service) GetIdentity(ctx context.Context, by Actor, id uuid.UUID) (ManagedIdentity, error) {
	m, err := s.managedIdentity(ctx, id)
	if err != nil {
		return ManagedIdentity{}, err
	}
	s.auditBy(ctx, EventAdminIdentityRead, &id, by)
	return m, nil
}

// IdentityByEmail finds the identity with an address, for the CLI, which
// takes an address where the API takes an id.
func (s *Service) IdentityByEmail(ctx context.Context, by Actor, raw string) (ManagedIdentity, error) {
	email, err := ParseEmail(raw)
	if err != nil {
		return ManagedIdentity{}, invalidField("email", err)
	}
	identity, err := s.store.IdentityByEmail(ctx, email)
	if err != nil {
		return ManagedIdentity{}, identityFailure(err)
	}
	return s.GetIdentity(ctx, by, identity.ID)
}

// managedIdentity reads an identity and its factors.
func (s *Service) managedIdentity(ctx context.Context, id uuid.UUID) (ManagedIdentity, error) {
	identity, err := s.store.IdentityByID(ctx, id)
	if err != nil {
		return ManagedIdentity{}, identityFailure(err)
	}
	f, err := s.factorsOf(ctx, s.factors, identity)
	if err != nil {
		return ManagedIdentity{}, err
	}
	return ManagedIdentity{Identity: identity, Factors: f}, nil
}

// ErrIdentityNotFound answers an admin call about an identity that does
// not exist.
var ErrIdentityNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "No such identity."}

// identityFailure names a missing identity as such and passes the rest on.
func identityFailure(err error) error {
	if ErrorKind(err) == KindNotFound {
		return ErrIdentityNotFound
	}
	return storeFailure("read identity", err)
}

// NewIdentity is the command behind POST /admin/v1/identities: an identity
// with a password (checked by the policy and hashed here), with a hash
// made elsewhere (as Kratos' admin import takes it: Argon2 PHC or bcrypt,
// replaced by authd's Argon2id at the first login), or with neither (it
// sets one through recovery).
type NewIdentity struct {
	Email         string
	Password      string
	PasswordHash  string
	Username      string
	GeoLocation   string
	EmailVerified bool
	State         State // active when empty
}

// CreateIdentity creates an identity for an operator. No session starts
// and no mail is sent: the operator tells the person.
func (s *Service) CreateIdentity(ctx context.Context, by Actor, cmd NewIdentity) (ManagedIdentity, error) {
	var errs fieldErrors
	email, err := ParseEmail(cmd.Email)
	errs.add("email", err)
	username, err := ParseUsername(cmd.Username)
	errs.add("username", err)
	geo, err := ParseGeoLocation(cmd.GeoLocation)
	errs.add("geo_location", err)
	state := cmd.State
	if state == "" {
		state = StateActive
	}
	if state != StateActive && state != StateInactive {
		errs.add("state", &RuleError{"invalid_choice", `The state must be "active" or "inactive".`})
	}
	var password Password
	switch {
	case cmd.Password != "" && cmd.PasswordHash != "":
		errs.add("password_hash", &RuleError{"conflict", "Give a password or a password hash, not both."})
	case cmd.Password != "":
		password, err = s.policy.Check(cmd.Password, email, username)
		errs.add("password", err)
	case cmd.PasswordHash != "":
		errs.add("password_hash", s.checkImportedHash(cmd.PasswordHash))
	}
	if err := errs.err(); err != nil {
		return ManagedIdentity{}, err
	}
	hash := cmd.PasswordHash
	if cmd.Password != "" {
		if err := s.admitHash(); err != nil {
			return ManagedIdentity{}, err
		}
		if hash, err = s.hasher.Hash(ctx, password.Plaintext()); err != nil {
			return ManagedIdentity{}, hashFailure(err)
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	identity := Identity{ID: uuid.Must(uuid.NewV7()), Email: email, Username: username, GeoLocation: geo,
		PasswordHash: hash, State: state, CreatedAt: now, UpdatedAt: now}
	if cmd.EmailVerified {
		identity.EmailVerifiedAt = &now
	}
	if err := s.store.CreateIdentity(ctx, identity); err != nil {
		return ManagedIdentity{}, adminConflict(err)
	}
	s.auditBy(ctx, EventAdminIdentityCreated, &identity.ID, by)
	return ManagedIdentity{Identity: identity}, nil
}

// checkImportedHash refuses a hash authd could never verify, which would
// leave an account nobody can log in to without saying so.
func (s *Service) checkImportedHash(encoded string) error {
	if len(encoded) > 1024 {
		return &RuleError{"hash_invalid", "The password hash is too long."}
	}
	if s.hashFormats == nil {
		return &RuleError{"hash_unsupported", "This server takes no password hashes."}
	}
	if err := s.hashFormats.CheckHash(encoded); err != nil {
		return &RuleError{"hash_unsupported", "The password hash is not an Argon2 PHC string or a bcrypt hash authd can verify."}
	}
	return nil
}

// adminConflict points the store's conflicts at the admin API's fields.
func adminConflict(err error) error {
	switch {
	case errors.Is(err, ErrEmailTaken):
		return &Error{Kind: KindConflict, Code: CodeEmailTaken, Message: ErrEmailTaken.Message,
			Fields: []FieldError{{Field: "email", Code: CodeEmailTaken, Message: ErrEmailTaken.Message}}}
	case errors.Is(err, ErrUsernameTaken):
		return err
	}
	return storeFailure("write identity", err)
}

// IdentityChange is the command behind PATCH /admin/v1/identities/{id}:
// a nil field is left as it is; an empty username or location is cleared.
type IdentityChange struct {
	ID            uuid.UUID
	Email         *string
	EmailVerified *bool
	Username      *string
	GeoLocation   *string
	State         *State
}

// UpdateIdentity changes an identity's address, traits or state for an
// operator. An inactive identity can no longer log in, and every session
// it has ends at once on every instance; a login under way when it is
// disabled cannot start one either (a new session generation).
func (s *Service) UpdateIdentity(ctx context.Context, by Actor, cmd IdentityChange) (ManagedIdentity, error) {
	m, err := s.managedIdentity(ctx, cmd.ID)
	if err != nil {
		return ManagedIdentity{}, err
	}
	identity := m.Identity
	var errs fieldErrors
	email, username, geo, state := identity.Email, identity.Username, identity.GeoLocation, identity.State
	if cmd.Email != nil {
		email, err = ParseEmail(*cmd.Email)
		errs.add("email", err)
	}
	if cmd.Username != nil {
		username, err = ParseUsername(*cmd.Username)
		errs.add("username", err)
	}
	if cmd.GeoLocation != nil {
		geo, err = ParseGeoLocation(*cmd.GeoLocation)
		errs.add("geo_location", err)
	}
	if cmd.State != nil {
		state = *cmd.State
		if state != StateActive && state != StateInactive {
			errs.add("state", &RuleError{"invalid_choice", `The state must be "active" or "inactive".`})
		}
	}
	if err := errs.err(); err != nil {
		return ManagedIdentity{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	emailChanged := email != identity.Email
	verifiedAt := identity.EmailVerifiedAt
	if emailChanged {
		verifiedAt = nil // a new address is unverified until said otherwise
	}
	if cmd.EmailVerified != nil {
		switch {
		case !*cmd.EmailVerified:
			verifiedAt = nil
		case verifiedAt == nil:
			verifiedAt = &now
		}
	}
	traitsChanged := username != identity.Username || geo != identity.GeoLocation
	verificationChanged := (verifiedAt == nil) != (identity.EmailVerifiedAt == nil)
	err = s.tx.InTx(ctx, func(st Stores) error {
		if emailChanged || verificationChanged {
			if err := st.Identities.UpdateEmail(ctx, identity.ID, email, verifiedAt, now); err != nil {
				return err
			}
		}
		if emailChanged {
			// Links mailed to the old address act on this account no more.
			for _, p := range []Purpose{PurposeRecovery, PurposeVerification, PurposeEmailChange} {
				if err := st.Tokens.Void(ctx, identity.ID, p, now); err != nil {
					return err
				}
			}
		}
		if traitsChanged {
			if err := st.Identities.UpdateProfile(ctx, identity.ID, username, geo, now); err != nil {
				return err
			}
		}
		if state != identity.State {
			return st.Identities.UpdateState(ctx, identity.ID, state, now)
		}
		return nil
	})
	if err != nil {
		return ManagedIdentity{}, adminConflict(err)
	}
	if state == StateInactive && identity.State != StateInactive {
		if _, _, err := s.sessions.EndGeneration(ctx, identity.ID); err != nil {
			// The account is disabled and refuses logins; its sessions must
			// not live on unnoticed, so the operator learns and can retry.
			return ManagedIdentity{}, Unavailable("end the sessions of a disabled identity", err)
		}
	}
	s.profileChanged(ctx, identity.ID)
	changed := emailChanged || verificationChanged || traitsChanged
	switch {
	case state != identity.State && state == StateInactive:
		s.auditBy(ctx, EventAdminIdentityDisabled, &identity.ID, by)
	case state != identity.State:
		s.auditBy(ctx, EventAdminIdentityEnabled, &identity.ID, by)
	}
	if changed || state == identity.State {
		s.auditBy(ctx, EventAdminIdentityUpdated, &identity.ID, by)
	}
	identity.Email, identity.EmailVerifiedAt, identity.Username, identity.GeoLocation, identity.State = email, verifiedAt, username, geo, state
	if changed || state != m.State {
		identity.UpdatedAt = now
	}
	return ManagedIdentity{Identity: identity, Factors: m.Factors}, nil
}

// DeleteIdentity deletes an identity for an operator, as its owner would
// (DeleteAccount): identity, sessions, tokens, factors and waiting mail
// go, the audit trail stays pseudonymised, and the owner gets a notice.
func (s *Service) DeleteIdentity(ctx context.Context, by Actor, id uuid.UUID) error {
	identity, err := s.store.IdentityByID(ctx, id)
	if err != nil {
		return identityFailure(err)
	}
	return s.deleteIdentity(ctx, identity, s.event(EventAdminIdentityDeleted, &identity.ID, by))
}
