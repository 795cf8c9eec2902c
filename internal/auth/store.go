package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// IdentityStore persists identities. Lookups of a missing identity return
// an error of KindNotFound; a duplicate e-mail or username on create or
// update returns ErrEmailTaken or ErrUsernameTaken. E-mails are compared in
// their canonical form (ParseEmail's) ignoring case; two usernames are
// duplicates when they differ only in case or share their UsernameKey
// (look-alikes).
type IdentityStore interface {
	CreateIdentity(ctx context.Context, id Identity) error
	IdentityByEmail(ctx context.Context, email Email) (Identity, error)
	IdentityByID(ctx context.Context, id uuid.UUID) (Identity, error)
	UpdatePasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error
	UpdateProfile(ctx context.Context, id uuid.UUID, username, geoLocation string, at time.Time) error
	MarkEmailVerified(ctx context.Context, id uuid.UUID, at time.Time) error
	// UpdateEmail replaces the address and its verification time (nil:
	// unverified); an address another identity has is ErrEmailTaken.
	UpdateEmail(ctx context.Context, id uuid.UUID, email Email, verifiedAt *time.Time, at time.Time) error
	// UpdateState sets whether the identity may log in.
	UpdateState(ctx context.Context, id uuid.UUID, state State, at time.Time) error
	// DeleteIdentity removes the identity with everything stored for it
	// alone: its one-time tokens and second factors. The audit trail
	// stays (AuditLog.Pseudonymise).
	DeleteIdentity(ctx context.Context, id uuid.UUID) error
}

// Stores are the durable stores of the use cases. Those handed to a
// Transactor's function share its transaction.
type Stores struct {
	Identities IdentityStore
	Tokens     TokenStore
	Outbox     Outbox
	Factors    FactorStore
	// Audit records inside the transaction, for an event that must exist
	// exactly when the change it is about does (an account deleted).
	Audit AuditLog
}

// Transactor runs fn with stores that share one transaction: every write
// fn makes through them commits, or (when fn or the commit fails) none
// does. fn's error is returned as it is.
type Transactor interface {
	InTx(ctx context.Context, fn func(Stores) error) error
}
