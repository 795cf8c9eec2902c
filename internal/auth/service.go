package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// IdentityStore persists identities. Lookups of a missing identity return
// an error of KindNotFound; a duplicate e-mail or username on create returns
// ErrEmailTaken or ErrUsernameTaken.
type IdentityStore interface {
	CreateIdentity(ctx context.Context, id Identity) error
	IdentityByEmail(ctx context.Context, email Email) (Identity, error)
	IdentityByID(ctx context.Context, id uuid.UUID) (Identity, error)
	UpdatePasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error
}

// PasswordHasher hashes and verifies passwords. Verify's rehash result says
// the stored hash was made with other parameters (or another algorithm) and
// should be replaced after a successful login.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error)
	DummyHash() string
}

// Service carries out the identity use cases, one file each.
type Service struct {
	store  IdentityStore
	hasher PasswordHasher
	policy PasswordPolicy
	now    func() time.Time
	log    *slog.Logger
}

// NewService wires the use cases to their ports. now is the clock; tests
// pass a fixed one.
func NewService(store IdentityStore, hasher PasswordHasher, policy PasswordPolicy, now func() time.Time, log *slog.Logger) *Service {
	return &Service{store: store, hasher: hasher, policy: policy, now: now, log: log}
}
