-- +goose Up
-- Second factors. Nothing here can log anyone in if it leaks: the TOTP
-- secret is sealed with SECRET_KEY (AES-256-GCM), recovery codes are kept
-- as keyed hashes, passkeys as public keys.

-- One TOTP factor per identity. Until confirmed_at is set it is a pending
-- enrolment that does not count as a factor. last_step is the last 30 s
-- time step whose code was accepted: a code is accepted only for a later
-- step, so no code works twice.
CREATE TABLE totp_factors (
    identity_id   uuid        PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    sealed_secret bytea       NOT NULL,
    confirmed_at  timestamptz,
    last_step     bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL
);

-- Single-use recovery codes (Kratos' lookup secrets), as HMAC-SHA-256
-- hashes under a key derived from SECRET_KEY.
CREATE TABLE recovery_codes (
    identity_id uuid        NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    code_hash   bytea       NOT NULL CHECK (length(code_hash) = 32),
    used_at     timestamptz,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (identity_id, code_hash)
);

-- The WebAuthn user handle of an identity: random, never its id or e-mail,
-- so a passkey reveals nothing about the account it belongs to.
CREATE TABLE passkey_users (
    identity_id uuid  PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    user_handle bytea NOT NULL UNIQUE CHECK (length(user_handle) BETWEEN 16 AND 64)
);

CREATE TABLE passkeys (
    id               uuid        PRIMARY KEY,
    identity_id      uuid        NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    credential_id    bytea       NOT NULL UNIQUE,
    public_key       bytea       NOT NULL,
    attestation_type text        NOT NULL DEFAULT '',
    aaguid           bytea,
    transports       text[]      NOT NULL DEFAULT '{}',
    sign_count       bigint      NOT NULL DEFAULT 0,
    backup_eligible  boolean     NOT NULL DEFAULT false,
    backup_state     boolean     NOT NULL DEFAULT false,
    user_verified    boolean     NOT NULL DEFAULT false,
    name             text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    created_at       timestamptz NOT NULL,
    last_used_at     timestamptz
);

CREATE INDEX passkeys_identity_idx ON passkeys (identity_id, created_at);

-- +goose Down
DROP TABLE passkeys;
DROP TABLE passkey_users;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
