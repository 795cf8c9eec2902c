package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/postgres"
)

func hashOf(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }

func TestTokenStore(t *testing.T) {
	db := migrated(t)
	ctx := context.Background()
	identity := newIdentity(uuid.NewString()[:8]+"@example.com", "")
	if err := postgres.NewIdentityStore(db).CreateIdentity(ctx, identity); err != nil {
		t.Fatal(err)
	}
	store := postgres.NewTokenStore(db)
	now := time.Now().UTC().Truncate(time.Microsecond)
	issue := func(token string, at time.Time) error {
		return store.Issue(ctx, auth.IssuedToken{ID: uuid.New(), IdentityID: identity.ID, Purpose: auth.PurposeRecovery, Email: identity.Email,
			TokenHash: hashOf(token), ExpiresAt: at.Add(time.Hour), CreatedAt: at})
	}

	if err := issue("first", now); err != nil {
		t.Fatal(err)
	}
	if err := issue("second", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Redeem(ctx, auth.PurposeRecovery, hashOf("first"), now.Add(2*time.Second)); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Errorf("a voided token redeemed: %v", err)
	}
	if _, err := store.Redeem(ctx, auth.PurposeVerification, hashOf("second"), now.Add(2*time.Second)); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Errorf("a recovery token redeemed as verification: %v", err)
	}
	// Stores on one transaction compose: the redeem and the new hash
	// commit together.
	err := db.Transact(ctx, func(tx *postgres.DB) error {
		if _, err := postgres.NewTokenStore(tx).Redeem(ctx, auth.PurposeRecovery, hashOf("second"), now.Add(2*time.Second)); err != nil {
			return err
		}
		return postgres.NewIdentityStore(tx).UpdatePasswordHash(ctx, identity.ID, "$argon2id$new", now.Add(2*time.Second))
	})
	if err != nil {
		t.Fatalf("redeem and set the password in one transaction: %v", err)
	}
	if got, err := postgres.NewIdentityStore(db).IdentityByID(ctx, identity.ID); err != nil || got.PasswordHash != "$argon2id$new" {
		t.Errorf("after the transaction: hash %q, %v", got.PasswordHash, err)
	}
	if _, err := store.Redeem(ctx, auth.PurposeRecovery, hashOf("second"), now.Add(3*time.Second)); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Errorf("a used token redeemed again: %v", err)
	}

	// A failure later in the transaction rolls the token back with it.
	errLater := errors.New("the mail could not be queued")
	err = db.Transact(ctx, func(tx *postgres.DB) error {
		if err := postgres.NewTokenStore(tx).Issue(ctx, auth.IssuedToken{ID: uuid.New(), IdentityID: identity.ID, Purpose: auth.PurposeRecovery,
			Email: identity.Email, TokenHash: hashOf("third"), ExpiresAt: now.Add(time.Hour), CreatedAt: now.Add(4 * time.Second)}); err != nil {
			return err
		}
		return errLater
	})
	if !errors.Is(err, errLater) {
		t.Fatalf("Transact = %v, want the function's own error", err)
	}
	if _, err := store.Lookup(ctx, auth.PurposeRecovery, hashOf("third"), now.Add(5*time.Second)); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Errorf("a token whose mail failed was stored: %v", err)
	}

	// Purging removes tokens a day past use or expiry, and nothing newer.
	if err := issue("fresh", now.Add(6*time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := store.PurgeExpired(ctx, now.Add(2*time.Hour))
	if err != nil || n != 0 {
		t.Errorf("early purge removed %d, %v; want 0", n, err)
	}
	n, err = store.PurgeExpired(ctx, now.Add(26*time.Hour))
	if err != nil || n != 3 {
		t.Errorf("purge removed %d, %v; want the 3 old tokens", n, err)
	}
}
