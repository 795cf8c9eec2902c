package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authd/authd/internal/auth"
)

// FactorStore keeps second factors in totp_factors, recovery_codes,
// passkey_users and passkeys.
type FactorStore struct{ db *DB }

var _ auth.FactorStore = (*FactorStore)(nil)

// NewFactorStore returns a factor store over db (a pool or a transaction).
func NewFactorStore(db *DB) *FactorStore { return &FactorStore{db: db} }

// Factors counts the identity's confirmed factors in one round trip.
func (s *FactorStore) Factors(ctx context.Context, id uuid.UUID) (auth.Factors, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	var f auth.Factors
	err := s.db.q.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM totp_factors WHERE identity_id = $1 AND confirmed_at IS NOT NULL),
		(SELECT count(*) FROM passkeys WHERE identity_id = $1),
		(SELECT count(*) FROM recovery_codes WHERE identity_id = $1 AND used_at IS NULL)`, id).
		Scan(&f.TOTP, &f.Passkeys, &f.RecoveryCodesLeft)
	if err != nil {
		return auth.Factors{}, classify("postgres: read factors", err)
	}
	return f, nil
}

// PutPendingTOTP stores a pending secret unless a confirmed one exists.
func (s *FactorStore) PutPendingTOTP(ctx context.Context, id uuid.UUID, sealed []byte, at time.Time) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `INSERT INTO totp_factors (identity_id, sealed_secret, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (identity_id) DO UPDATE SET sealed_secret = EXCLUDED.sealed_secret, created_at = EXCLUDED.created_at, last_step = 0
		WHERE totp_factors.confirmed_at IS NULL`, id, sealed, at)
	if err != nil {
		return classify("postgres: put pending TOTP", err)
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrTOTPAlreadyEnabled
	}
	return nil
}

// TOTP reads the identity's TOTP factor, pending or confirmed.
func (s *FactorStore) TOTP(ctx context.Context, id uuid.UUID) (auth.TOTPFactor, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	var f auth.TOTPFactor
	err := s.db.q.QueryRow(ctx, `SELECT sealed_secret, confirmed_at IS NOT NULL, last_step FROM totp_factors WHERE identity_id = $1`, id).
		Scan(&f.SealedSecret, &f.Confirmed, &f.LastStep)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.TOTPFactor{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.TOTPFactor{}, classify("postgres: read TOTP", err)
	}
	return f, nil
}

// UseTOTPStep moves last_step forward, only forward: the condition in the
// UPDATE is what makes a replayed code fail even when two requests race.
func (s *FactorStore) UseTOTPStep(ctx context.Context, id uuid.UUID, step int64, confirm bool, at time.Time) (bool, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	q := `UPDATE totp_factors SET last_step = $2 WHERE identity_id = $1 AND last_step < $2 AND confirmed_at IS NOT NULL`
	if confirm {
		q = `UPDATE totp_factors SET last_step = $2, confirmed_at = $3 WHERE identity_id = $1 AND last_step < $2 AND confirmed_at IS NULL`
	}
	args := []any{id, step}
	if confirm {
		args = append(args, at)
	}
	tag, err := s.db.q.Exec(ctx, q, args...)
	if err != nil {
		return false, classify("postgres: use TOTP step", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteTOTP removes the TOTP factor, pending or confirmed.
func (s *FactorStore) DeleteTOTP(ctx context.Context, id uuid.UUID) (bool, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `DELETE FROM totp_factors WHERE identity_id = $1`, id)
	if err != nil {
		return false, classify("postgres: delete TOTP", err)
	}
	return tag.RowsAffected() > 0, nil
}

// ReplaceRecoveryCodes deletes the old set and stores the new one, in one
// transaction.
func (s *FactorStore) ReplaceRecoveryCodes(ctx context.Context, id uuid.UUID, hashes [][]byte, at time.Time) error {
	return s.db.Transact(ctx, func(tx *DB) error {
		if _, err := tx.q.Exec(ctx, `DELETE FROM recovery_codes WHERE identity_id = $1`, id); err != nil {
			return classify("postgres: void recovery codes", err)
		}
		if _, err := tx.q.Exec(ctx, `INSERT INTO recovery_codes (identity_id, code_hash, created_at)
			SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h`, id, hashes, at); err != nil {
			return classify("postgres: store recovery codes", err)
		}
		return nil
	})
}

// UseRecoveryCode marks an unused code used.
func (s *FactorStore) UseRecoveryCode(ctx context.Context, id uuid.UUID, hash []byte, at time.Time) (bool, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `UPDATE recovery_codes SET used_at = $3 WHERE identity_id = $1 AND code_hash = $2 AND used_at IS NULL`, id, hash, at)
	if err != nil {
		return false, classify("postgres: use recovery code", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteRecoveryCodes removes every code of the identity.
func (s *FactorStore) DeleteRecoveryCodes(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	if _, err := s.db.q.Exec(ctx, `DELETE FROM recovery_codes WHERE identity_id = $1`, id); err != nil {
		return classify("postgres: delete recovery codes", err)
	}
	return nil
}

// PasskeyUserHandle returns the stored handle, storing candidate first
// when there is none (two racing first registrations agree on one).
func (s *FactorStore) PasskeyUserHandle(ctx context.Context, id uuid.UUID, candidate []byte) ([]byte, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	var handle []byte
	err := s.db.q.QueryRow(ctx, `WITH ins AS (
			INSERT INTO passkey_users (identity_id, user_handle) VALUES ($1, $2)
			ON CONFLICT (identity_id) DO NOTHING RETURNING user_handle)
		SELECT user_handle FROM ins UNION ALL SELECT user_handle FROM passkey_users WHERE identity_id = $1 LIMIT 1`,
		id, candidate).Scan(&handle)
	if err != nil {
		return nil, classify("postgres: passkey user handle", err)
	}
	return handle, nil
}

// IdentityByUserHandle finds the identity of a WebAuthn user handle.
func (s *FactorStore) IdentityByUserHandle(ctx context.Context, handle []byte) (uuid.UUID, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	var id uuid.UUID
	err := s.db.q.QueryRow(ctx, `SELECT identity_id FROM passkey_users WHERE user_handle = $1`, handle).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, auth.ErrNotFound
	}
	if err != nil {
		return uuid.Nil, classify("postgres: identity by user handle", err)
	}
	return id, nil
}

const passkeyColumns = `id, identity_id, credential_id, public_key, attestation_type, aaguid, transports, sign_count,
	backup_eligible, backup_state, user_verified, name, created_at, last_used_at`

func scanPasskey(row pgx.Row) (auth.Passkey, error) {
	var p auth.Passkey
	var count int64
	err := row.Scan(&p.ID, &p.IdentityID, &p.CredentialID, &p.PublicKey, &p.AttestationType, &p.AAGUID, &p.Transports, &count,
		&p.BackupEligible, &p.BackupState, &p.UserVerified, &p.Name, &p.CreatedAt, &p.LastUsedAt)
	p.SignCount = uint32(count)
	return p, err
}

// AddPasskey stores a new passkey.
func (s *FactorStore) AddPasskey(ctx context.Context, p auth.Passkey) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	transports := p.Transports
	if transports == nil {
		transports = []string{}
	}
	_, err := s.db.q.Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		p.ID, p.IdentityID, p.CredentialID, p.PublicKey, p.AttestationType, p.AAGUID, transports, int64(p.SignCount),
		p.BackupEligible, p.BackupState, p.UserVerified, p.Name, p.CreatedAt, p.LastUsedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return auth.ErrPasskeyExists
	}
	if err != nil {
		return classify("postgres: add passkey", err)
	}
	return nil
}

// Passkeys lists the identity's passkeys, oldest first.
func (s *FactorStore) Passkeys(ctx context.Context, id uuid.UUID) ([]auth.Passkey, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	rows, err := s.db.q.Query(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE identity_id = $1 ORDER BY created_at, id`, id)
	if err != nil {
		return nil, classify("postgres: list passkeys", err)
	}
	defer rows.Close()
	var out []auth.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, classify("postgres: list passkeys", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("postgres: list passkeys", err)
	}
	return out, nil
}

// PasskeyByCredentialID finds a passkey by its WebAuthn credential id.
func (s *FactorStore) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (auth.Passkey, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	p, err := scanPasskey(s.db.q.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = $1`, credentialID))
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Passkey{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.Passkey{}, classify("postgres: find passkey", err)
	}
	return p, nil
}

// RecordPasskeyUse stores a sign-in's counter and flags if the counter is
// still the one it was checked against.
func (s *FactorStore) RecordPasskeyUse(ctx context.Context, id uuid.UUID, checked uint32, use auth.PasskeyUse) (bool, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `UPDATE passkeys SET sign_count = $3, backup_state = $4, user_verified = user_verified OR $5, last_used_at = $6
		WHERE id = $1 AND sign_count = $2`, id, int64(checked), int64(use.SignCount), use.BackupState, use.UserVerified, use.At)
	if err != nil {
		return false, classify("postgres: record passkey use", err)
	}
	return tag.RowsAffected() == 1, nil
}

// RenamePasskey renames one of the identity's passkeys.
func (s *FactorStore) RenamePasskey(ctx context.Context, identityID, id uuid.UUID, name string) (auth.Passkey, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	p, err := scanPasskey(s.db.q.QueryRow(ctx, `UPDATE passkeys SET name = $3 WHERE identity_id = $1 AND id = $2 RETURNING `+passkeyColumns,
		identityID, id, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Passkey{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.Passkey{}, classify("postgres: rename passkey", err)
	}
	return p, nil
}

// DeletePasskey removes one of the identity's passkeys and returns it.
func (s *FactorStore) DeletePasskey(ctx context.Context, identityID, id uuid.UUID) (auth.Passkey, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	p, err := scanPasskey(s.db.q.QueryRow(ctx, `DELETE FROM passkeys WHERE identity_id = $1 AND id = $2 RETURNING `+passkeyColumns,
		identityID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Passkey{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.Passkey{}, classify("postgres: delete passkey", err)
	}
	return p, nil
}
