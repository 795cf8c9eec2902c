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

// IdentityStore keeps identities in the identities table.
type IdentityStore struct{ db *DB }

var _ auth.IdentityStore = (*IdentityStore)(nil)

// NewIdentityStore returns a store over db.
func NewIdentityStore(db *DB) *IdentityStore { return &IdentityStore{db: db} }

const identityColumns = `id, email, email_verified_at, username, geo_location, password_hash, state, created_at, updated_at`

// CreateIdentity inserts a new identity; a taken e-mail or username (in any
// letter case, or a look-alike of it: auth.UsernameKey) gives
// auth.ErrEmailTaken or auth.ErrUsernameTaken.
func (s *IdentityStore) CreateIdentity(ctx context.Context, i auth.Identity) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	_, err := s.db.q.Exec(ctx, `INSERT INTO identities (`+identityColumns+`, username_key) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
		i.ID, i.Email.String(), i.EmailVerifiedAt, nullable(i.Username), nullable(i.GeoLocation), i.PasswordHash, string(i.State), i.CreatedAt, i.UpdatedAt,
		usernameKey(i.Username))
	if err != nil {
		return uniqueViolation(err, "postgres: create identity")
	}
	return nil
}

// IdentityByEmail finds the identity with that e-mail, ignoring case.
func (s *IdentityStore) IdentityByEmail(ctx context.Context, email auth.Email) (auth.Identity, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	row := s.db.q.QueryRow(ctx, `SELECT `+identityColumns+` FROM identities WHERE lower(email) = $1`, email.String())
	return scanIdentity(row, "postgres: identity by email")
}

// IdentityByID finds the identity with that id.
func (s *IdentityStore) IdentityByID(ctx context.Context, id uuid.UUID) (auth.Identity, error) {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	row := s.db.q.QueryRow(ctx, `SELECT `+identityColumns+` FROM identities WHERE id = $1`, id)
	return scanIdentity(row, "postgres: identity by id")
}

// UpdatePasswordHash replaces the stored hash.
func (s *IdentityStore) UpdatePasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `UPDATE identities SET password_hash = $2, updated_at = $3 WHERE id = $1`, id, hash, at)
	if err != nil {
		return classify("postgres: update password hash", err)
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// UpdateProfile replaces the traits; a username taken by another identity
// (or a look-alike of it) gives auth.ErrUsernameTaken. The key changes with
// the username only: an unchanged username keeps the key it has, so that
// a row left without one by the backfill (an older identity has its key)
// can still change its location.
func (s *IdentityStore) UpdateProfile(ctx context.Context, id uuid.UUID, username, geoLocation string, at time.Time) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `UPDATE identities SET username = $2, geo_location = $3, updated_at = $4,
		username_key = CASE WHEN username IS NOT DISTINCT FROM $2 THEN username_key ELSE $5 END
		WHERE id = $1`,
		id, nullable(username), nullable(geoLocation), at, usernameKey(username))
	if err != nil {
		return uniqueViolation(err, "postgres: update profile")
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// MarkEmailVerified records when the address was verified.
func (s *IdentityStore) MarkEmailVerified(ctx context.Context, id uuid.UUID, at time.Time) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `UPDATE identities SET email_verified_at = $2, updated_at = $2 WHERE id = $1`, id, at)
	if err != nil {
		return classify("postgres: mark e-mail verified", err)
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// UpdateEmail replaces the address and its verification time; an address
// another identity has gives auth.ErrEmailTaken.
func (s *IdentityStore) UpdateEmail(ctx context.Context, id uuid.UUID, email auth.Email, verifiedAt *time.Time, at time.Time) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `UPDATE identities SET email = $2, email_verified_at = $3, updated_at = $4 WHERE id = $1`,
		id, email.String(), verifiedAt, at)
	if err != nil {
		return uniqueViolation(err, "postgres: update e-mail")
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// UpdateState sets whether the identity may log in.
func (s *IdentityStore) UpdateState(ctx context.Context, id uuid.UUID, state auth.State, at time.Time) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `UPDATE identities SET state = $2, updated_at = $3 WHERE id = $1`, id, string(state), at)
	if err != nil {
		return classify("postgres: update state", err)
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// DeleteIdentity deletes the identity; its one-time tokens, second factors
// and WebAuthn user handle go with it (ON DELETE CASCADE). Its audit
// events stay: they have no foreign key.
func (s *IdentityStore) DeleteIdentity(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := s.db.deadline(ctx)
	defer cancel()
	tag, err := s.db.q.Exec(ctx, `DELETE FROM identities WHERE id = $1`, id)
	if err != nil {
		return classify("postgres: delete identity", err)
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrNotFound
	}
	return nil
}

func scanIdentity(row pgx.Row, op string) (auth.Identity, error) {
	var (
		i                     auth.Identity
		email, state          string
		username, geoLocation *string
	)
	err := row.Scan(&i.ID, &email, &i.EmailVerifiedAt, &username, &geoLocation, &i.PasswordHash, &state, &i.CreatedAt, &i.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Identity{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.Identity{}, classify(op, err)
	}
	i.Email = auth.EmailFromStore(email)
	i.State = auth.State(state)
	if username != nil {
		i.Username = *username
	}
	if geoLocation != nil {
		i.GeoLocation = *geoLocation
	}
	return i, nil
}

// uniqueViolation maps the unique indexes of identities to domain conflicts.
func uniqueViolation(err error, op string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		switch pgErr.ConstraintName {
		case "identities_email_key":
			return auth.ErrEmailTaken
		case "identities_username_key", "identities_username_skeleton_key":
			return auth.ErrUsernameTaken
		}
	}
	return classify(op, err)
}

// usernameKey is the username_key column of a username: NULL for no
// username, and for the empty key of a username made of invisible
// characters only (which auth.ParseUsername refuses).
func usernameKey(username string) *string {
	if username == "" {
		return nil
	}
	return nullable(auth.UsernameKey(username))
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
