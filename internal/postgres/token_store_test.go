package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/postgres"
)

// recordingQueue stands in for the mail queue: it writes a row in the
// caller's transaction, so a rolled-back issue leaves no mail behind.
type recordingQueue struct{ fail bool }

func (q *recordingQueue) EnqueueTx(ctx context.Context, tx pgx.Tx, m auth.Mail) error {
	if q.fail {
		return errors.New("queue refused")
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS test_mails (recipient text)`); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO test_mails VALUES ($1)`, m.To)
	return err
}

func hashOf(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }

func TestTokenStore(t *testing.T) {
	db := migrated(t)
	ctx := context.Background()
	identity := newIdentity(uuid.NewString()[:8]+"@example.com", "")
	if err := postgres.NewIdentityStore(db).CreateIdentity(ctx, identity); err != nil {
		t.Fatal(err)
	}
	queue := &recordingQueue{}
	store := postgres.NewTokenStore(db, queue)
	now := time.Now().UTC().Truncate(time.Microsecond)
	issue := func(token string, at time.Time) error {
		return store.Issue(ctx, auth.IssuedToken{ID: uuid.New(), IdentityID: identity.ID, Purpose: auth.PurposeRecovery, Email: identity.Email,
			TokenHash: hashOf(token), ExpiresAt: at.Add(time.Hour), CreatedAt: at}, auth.Mail{To: identity.Email.String(), Template: "recovery"})
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
	if _, err := store.RedeemRecovery(ctx, hashOf("second"), "$argon2id$new", now.Add(2*time.Second)); err != nil {
		t.Fatalf("RedeemRecovery: %v", err)
	}
	if _, err := store.Redeem(ctx, auth.PurposeRecovery, hashOf("second"), now.Add(3*time.Second)); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Errorf("a used token redeemed again: %v", err)
	}

	// A queue failure rolls the token back with it.
	queue.fail = true
	if err := issue("third", now.Add(4*time.Second)); err == nil {
		t.Fatal("Issue succeeded although the mail could not be queued")
	}
	queue.fail = false
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
