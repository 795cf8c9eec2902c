-- The tables of an Ory Kratos v1.3 PostgreSQL database that authd's import
-- reads, with their columns as Kratos' migrations leave them
-- (persistence/sql/migrations in the Kratos source; the networks table and
-- the columns the import does not read are left out, but their names are
-- kept where the import's queries could meet them).
CREATE TABLE identity_credential_types (
    id   uuid        PRIMARY KEY,
    name varchar(32) NOT NULL UNIQUE
);

CREATE TABLE identities (
    id               uuid          PRIMARY KEY,
    schema_id        varchar(2048) NOT NULL,
    traits           jsonb         NOT NULL,
    created_at       timestamp     NOT NULL,
    updated_at       timestamp     NOT NULL,
    nid              uuid,
    state            varchar(255)  NOT NULL DEFAULT 'active',
    state_changed_at timestamp,
    metadata_public  jsonb,
    metadata_admin   jsonb,
    available_aal    varchar(4),
    organization_id  uuid
);

CREATE TABLE identity_credentials (
    id                          uuid      PRIMARY KEY,
    config                      jsonb     NOT NULL,
    identity_credential_type_id uuid      NOT NULL REFERENCES identity_credential_types (id) ON DELETE CASCADE,
    identity_id                 uuid      NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    created_at                  timestamp NOT NULL,
    updated_at                  timestamp NOT NULL,
    nid                         uuid,
    version                     integer   NOT NULL DEFAULT 0
);

CREATE TABLE identity_credential_identifiers (
    id                          uuid         PRIMARY KEY,
    identifier                  varchar(255) NOT NULL,
    identity_credential_id      uuid         NOT NULL REFERENCES identity_credentials (id) ON DELETE CASCADE,
    created_at                  timestamp    NOT NULL,
    updated_at                  timestamp    NOT NULL,
    nid                         uuid,
    identity_credential_type_id uuid         NOT NULL REFERENCES identity_credential_types (id) ON DELETE CASCADE
);

CREATE TABLE identity_verifiable_addresses (
    id          uuid         PRIMARY KEY,
    status      varchar(16)  NOT NULL,
    via         varchar(16)  NOT NULL,
    verified    boolean      NOT NULL,
    value       varchar(400) NOT NULL,
    verified_at timestamp,
    identity_id uuid         NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    created_at  timestamp    NOT NULL,
    updated_at  timestamp    NOT NULL,
    nid         uuid
);

CREATE TABLE identity_recovery_addresses (
    id          uuid         PRIMARY KEY,
    via         varchar(16)  NOT NULL,
    value       varchar(400) NOT NULL,
    identity_id uuid         NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    created_at  timestamp    NOT NULL,
    updated_at  timestamp    NOT NULL,
    nid         uuid
);

INSERT INTO identity_credential_types (id, name) VALUES
    ('78c1b41d-8341-4507-aa60-aff1d4369670', 'password'),
    ('6fa5e2e0-bfce-4631-b62b-cf2b0252b289', 'oidc'),
    ('5bd3d8a3-4a62-4e7c-9b4a-0d9f3c7b2a11', 'totp'),
    ('4b8c2a35-7f5e-4a0e-9d3b-1c2d3e4f5a6b', 'lookup_secret'),
    ('3a7b1c24-6e4d-4f9e-8c2a-0b1c2d3e4f5a', 'webauthn'),
    ('2c6a0b13-5d3c-4e8d-7b19-fa0b1c2d3e4f', 'code'),
    ('1b5f9a02-4c2b-4d7c-6a08-e9fa0b1c2d3e', 'passkey');
