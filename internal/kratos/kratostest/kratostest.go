// Package kratostest builds Ory Kratos databases for the import's tests:
// the tables as Kratos v1.3 leaves them, and identities written the way
// Kratos writes them.
package kratostest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed schema.sql
var schemaSQL string

// DB is a Kratos database under construction.
type DB struct {
	Pool *pgxpool.Pool
	URL  string
}

// Open connects to url and creates Kratos' tables in it.
func Open(ctx context.Context, url string) (*DB, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, schemaSQL); err != nil {
		pool.Close()
		return nil, fmt.Errorf("kratostest: create the tables: %w", err)
	}
	return &DB{Pool: pool, URL: url}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Identity is one Kratos identity to write.
type Identity struct {
	ID        uuid.UUID
	Traits    map[string]any
	State     string // "" is active
	CreatedAt time.Time
	// PasswordIdentifier and PasswordHash make a password credential
	// (Kratos stores the identifier as typed, lower-cased).
	PasswordIdentifier string
	PasswordHash       string
	// Verified addresses: value → verified_at (nil: unverified).
	Addresses map[string]*time.Time
	TOTPURL   string
	// LookupCodes: code → used_at (nil: unused).
	LookupCodes map[string]*time.Time
	// WebAuthn is the raw webauthn credential config, if any.
	WebAuthn map[string]any
}

// Insert writes the identity as Kratos does: the identity, its
// credentials with their identifiers, and its addresses.
func (db *DB) Insert(ctx context.Context, i Identity) error {
	if i.ID == uuid.Nil {
		i.ID = uuid.New()
	}
	if i.CreatedAt.IsZero() {
		i.CreatedAt = time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)
	}
	if i.State == "" {
		i.State = "active"
	}
	traits, err := json.Marshal(i.Traits)
	if err != nil {
		return err
	}
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO identities (id, schema_id, traits, created_at, updated_at, state) VALUES ($1, 'default', $2, $3, $3, $4)`,
		i.ID, traits, i.CreatedAt, i.State); err != nil {
		return err
	}
	cred := func(kind string, config any, identifier string) error {
		b, err := json.Marshal(config)
		if err != nil {
			return err
		}
		id := uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO identity_credentials (id, config, identity_credential_type_id, identity_id, created_at, updated_at)
			SELECT $1, $2, t.id, $3, $4, $4 FROM identity_credential_types t WHERE t.name = $5`, id, b, i.ID, i.CreatedAt, kind); err != nil {
			return err
		}
		if identifier == "" {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO identity_credential_identifiers (id, identifier, identity_credential_id, created_at, updated_at, identity_credential_type_id)
			SELECT $1, $2, $3, $4, $4, t.id FROM identity_credential_types t WHERE t.name = $5`, uuid.New(), identifier, id, i.CreatedAt, kind)
		return err
	}
	if i.PasswordHash != "" {
		if err := cred("password", map[string]string{"hashed_password": i.PasswordHash}, i.PasswordIdentifier); err != nil {
			return err
		}
	}
	if i.TOTPURL != "" {
		if err := cred("totp", map[string]string{"totp_url": i.TOTPURL}, i.ID.String()); err != nil {
			return err
		}
	}
	if len(i.LookupCodes) > 0 {
		var codes []map[string]any
		for code, used := range i.LookupCodes {
			c := map[string]any{"code": code}
			if used != nil {
				c["used_at"] = used.UTC().Format(time.RFC3339Nano)
			}
			codes = append(codes, c)
		}
		if err := cred("lookup_secret", map[string]any{"recovery_codes": codes}, i.ID.String()); err != nil {
			return err
		}
	}
	if i.WebAuthn != nil {
		if err := cred("webauthn", i.WebAuthn, i.ID.String()); err != nil {
			return err
		}
	}
	for value, verifiedAt := range i.Addresses {
		status := "pending"
		if verifiedAt != nil {
			status = "completed"
		}
		if _, err := tx.Exec(ctx, `INSERT INTO identity_verifiable_addresses (id, status, via, verified, value, verified_at, identity_id, created_at, updated_at)
			VALUES ($1, $2, 'email', $3, $4, $5, $6, $7, $7)`, uuid.New(), status, verifiedAt != nil, value, verifiedAt, i.ID, i.CreatedAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO identity_recovery_addresses (id, via, value, identity_id, created_at, updated_at)
			VALUES ($1, 'email', $2, $3, $4, $4)`, uuid.New(), value, i.ID, i.CreatedAt); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
