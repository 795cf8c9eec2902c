package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// IdentityStore persists identities. Lookups of a missing identity return
// an error of KindNotFound; a duplicate e-mail or username on create or
// update returns ErrEmailTaken or ErrUsernameTaken.
type IdentityStore interface {
	CreateIdentity(ctx context.Context, id Identity) error
	IdentityByEmail(ctx context.Context, email Email) (Identity, error)
	IdentityByID(ctx context.Context, id uuid.UUID) (Identity, error)
	UpdatePasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error
	UpdateProfile(ctx context.Context, id uuid.UUID, username, geoLocation string, at time.Time) error
}

// PasswordHasher hashes and verifies passwords. Verify's rehash result says
// the stored hash was made with other parameters (or another algorithm) and
// should be replaced after a successful login.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error)
	DummyHash() string
}

// ProfileCache drops what is cached of an identity's profile, on every
// instance, after the identity changed.
type ProfileCache interface {
	Invalidate(ctx context.Context, id uuid.UUID) error
}

// Deps are the ports and settings of the Service.
type Deps struct {
	Store    IdentityStore
	Hasher   PasswordHasher
	Sessions SessionIndex
	Audit    AuditLog
	Profiles ProfileCache // nil when profiles are not cached
	Policy   PasswordPolicy
	// PrivilegedWindow is how long after a login a password may be changed
	// without giving the current one again.
	PrivilegedWindow time.Duration
	Now              func() time.Time
	Log              *slog.Logger
}

// Service carries out the identity use cases, one file each.
type Service struct {
	store            IdentityStore
	hasher           PasswordHasher
	sessions         SessionIndex
	auditLog         AuditLog
	profiles         ProfileCache
	policy           PasswordPolicy
	privilegedWindow time.Duration
	now              func() time.Time
	log              *slog.Logger
}

// NewService wires the use cases to their ports.
func NewService(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{
		store: d.Store, hasher: d.Hasher, sessions: d.Sessions, auditLog: d.Audit, profiles: d.Profiles,
		policy: d.Policy, privilegedWindow: d.PrivilegedWindow, now: d.Now, log: d.Log,
	}
}

// profileChanged invalidates cached profiles. The change is already
// committed, so a failure is logged; the cache entry's TTL bounds the harm.
func (s *Service) profileChanged(ctx context.Context, id uuid.UUID) {
	if s.profiles == nil {
		return
	}
	if err := s.profiles.Invalidate(ctx, id); err != nil {
		s.log.ErrorContext(ctx, "profile cache not invalidated", "identity_id", id, "error", err)
	}
}
