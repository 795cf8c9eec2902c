package postgres

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/internal/auth"
)

// TokenStore keeps one-time tokens in one_time_tokens.
type TokenStore struct{ db *DB }

var _ auth.TokenStore = (*TokenStore)(nil)

// NewTokenStore returns a token store over db (a pool or a transaction).
func NewTokenStore(db *DB) *TokenStore { return &TokenStore{db: db} }

// Issue voids the identity's live tokens of the purpose and stores t,
// atomically.
func (s *TokenStore) Issue(ctx context.Context, t auth.IssuedToken) error {
	return s.db.Transact(ctx, func(tx *DB) error {
		if err := NewTokenStore(tx).Void(ctx, t.IdentityID, t.Purpose, t.CreatedAt); err != nil {
			return err
		}
		return NewTokenStore(tx).insert(ctx, t)
	})
}

// IssueAlongside stores t and leaves the identity's other tokens as they
// are.
func (s *TokenStore) IssueAlongside(ctx context.Context, t auth.IssuedToken) error {
	return s.insert(ctx, t)
}

func (s *TokenStore) insert(ctx context.Context, t auth.IssuedToken) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	var codeExpires *time.Time
	if t.CodeHash != nil {
		codeExpires = &t.CodeExpiresAt
	}
	if _, err := s.db.q.Exec(ctx, `INSERT INTO one_time_tokens (id, identity_id, purpose, email, token_hash, expires_at, code_hash, code_expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.IdentityID, string(t.Purpose), t.Email.String(), t.TokenHash, t.ExpiresAt, t.CodeHash, codeExpires, t.CreatedAt); err != nil {
		return classify("postgres: issue token", err)
	}
	return nil
}

// Void uses up the identity's unused tokens of the purpose.
func (s *TokenStore) Void(ctx context.Context, identityID uuid.UUID, p auth.Purpose, at time.Time) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	if _, err := s.db.q.Exec(ctx, `UPDATE one_time_tokens SET used_at = $3 WHERE identity_id = $1 AND purpose = $2 AND used_at IS NULL`,
		identityID, string(p), at); err != nil {
		return classify("postgres: void tokens", err)
	}
	return nil
}

// Lookup finds a live token without using it.
func (s *TokenStore) Lookup(ctx context.Context, p auth.Purpose, hash []byte, now time.Time) (auth.RedeemedToken, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	row := s.db.q.QueryRow(ctx, `SELECT identity_id, email FROM one_time_tokens
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3`, hash, string(p), now)
	return scanRedeemed(row, "postgres: look up token")
}

// Redeem uses a live token; the guarded UPDATE makes concurrent redeems
// of the same token succeed at most once.
func (s *TokenStore) Redeem(ctx context.Context, p auth.Purpose, hash []byte, now time.Time) (auth.RedeemedToken, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	row := s.db.q.QueryRow(ctx, `UPDATE one_time_tokens SET used_at = $3
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
		RETURNING identity_id, email`, hash, string(p), now)
	return scanRedeemed(row, "postgres: redeem token")
}

// SubmitCode checks a verification code against the identity's latest
// live code, counting wrong attempts under a row lock.
func (s *TokenStore) SubmitCode(ctx context.Context, identityID uuid.UUID, codeHash []byte, maxAttempts int, now time.Time) (auth.CodeResult, auth.RedeemedToken, error) {
	result, out := auth.CodeVoid, auth.RedeemedToken{}
	err := s.db.Transact(ctx, func(tx *DB) error {
		var (
			id       uuid.UUID
			email    string
			stored   []byte
			expires  *time.Time
			attempts int
		)
		err := tx.q.QueryRow(ctx, `SELECT id, email, code_hash, code_expires_at, code_attempts FROM one_time_tokens
			WHERE identity_id = $1 AND purpose = 'verification' AND used_at IS NULL AND code_hash IS NOT NULL
			ORDER BY created_at DESC LIMIT 1 FOR UPDATE`, identityID).Scan(&id, &email, &stored, &expires, &attempts)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return classify("postgres: submit code", err)
		}
		if expires == nil || !now.Before(*expires) || attempts >= maxAttempts {
			return nil
		}
		if subtle.ConstantTimeCompare(stored, codeHash) == 1 {
			result, out = auth.CodeAccepted, auth.RedeemedToken{IdentityID: identityID, Email: auth.EmailFromStore(email)}
			if _, err := tx.q.Exec(ctx, `UPDATE one_time_tokens SET used_at = $2 WHERE id = $1`, id, now); err != nil {
				return classify("postgres: submit code", err)
			}
			return nil
		}
		result = auth.CodeWrong
		// The last allowed attempt voids the code (and its link) for good.
		if _, err := tx.q.Exec(ctx, `UPDATE one_time_tokens SET code_attempts = code_attempts + 1,
			used_at = CASE WHEN code_attempts + 1 >= $3::int THEN $2::timestamptz ELSE NULL END WHERE id = $1`, id, now, maxAttempts); err != nil {
			return classify("postgres: submit code", err)
		}
		return nil
	})
	return result, out, err
}

// PurgeExpired deletes tokens that expired or were used more than a day
// before now, and returns how many.
func (s *TokenStore) PurgeExpired(ctx context.Context, now time.Time) (int64, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	cutoff := now.Add(-24 * time.Hour)
	tag, err := s.db.q.Exec(ctx, `DELETE FROM one_time_tokens WHERE expires_at < $1 OR used_at < $1`, cutoff)
	if err != nil {
		return 0, classify("postgres: purge tokens", err)
	}
	return tag.RowsAffected(), nil
}

func scanRedeemed(row pgx.Row, op string) (auth.RedeemedToken, error) {
	var (
		out   auth.RedeemedToken
		email string
	)
	err := row.Scan(&out.IdentityID, &email)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.RedeemedToken{}, auth.ErrTokenInvalid
	}
	if err != nil {
		return auth.RedeemedToken{}, classify(op, err)
	}
	out.Email = auth.EmailFromStore(email)
	return out, nil
}
