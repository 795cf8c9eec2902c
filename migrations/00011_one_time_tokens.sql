-- +goose Up
-- Recovery and verification tokens. Only SHA-256 hashes are stored; the
-- raw token exists in the mail (sealed in the queue) and the user's hands.
CREATE TABLE one_time_tokens (
    id              uuid PRIMARY KEY,
    identity_id     uuid        NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    purpose         text        NOT NULL CHECK (purpose IN ('recovery', 'verification')),
    email           text        NOT NULL,
    token_hash      bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    expires_at      timestamptz NOT NULL,
    code_hash       bytea       CHECK (code_hash IS NULL OR length(code_hash) = 32),
    code_expires_at timestamptz,
    code_attempts   integer     NOT NULL DEFAULT 0,
    used_at         timestamptz,
    created_at      timestamptz NOT NULL
);

CREATE INDEX one_time_tokens_live_idx ON one_time_tokens (identity_id, purpose, created_at DESC) WHERE used_at IS NULL;
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);

-- +goose Down
DROP TABLE one_time_tokens;
