-- +goose Up
CREATE TABLE identities (
    id                uuid PRIMARY KEY,
    email             text        NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    username          text        CHECK (username IS NULL OR length(username) BETWEEN 1 AND 128),
    geo_location      text        CHECK (geo_location IS NULL OR length(geo_location) <= 512),
    password_hash     text        NOT NULL,
    state             text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'inactive')),
    email_verified_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- E-mails are stored lower-cased; the index on lower() still guards rows
-- written by hand or by an import.
CREATE UNIQUE INDEX identities_email_key ON identities (lower(email));
CREATE UNIQUE INDEX identities_username_key ON identities (lower(username)) WHERE username IS NOT NULL;

-- +goose Down
DROP TABLE identities;
