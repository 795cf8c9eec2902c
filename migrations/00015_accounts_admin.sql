-- +goose Up
-- The admin API and account deletion.

-- Who made an admin call: "admin:<token name>" for the admin API,
-- "cli:<user>" for `authd admin`; empty for what an identity did itself.
ALTER TABLE audit_events ADD COLUMN actor text NOT NULL DEFAULT '' CHECK (length(actor) <= 128);

-- The trail outlives the account it is about: a deleted identity's events
-- keep its id, a pseudonym once nothing else names it, so the foreign key
-- (which set it to NULL on delete) goes. Deleting an account blanks the IP
-- and user agent of its events instead (the only change the trigger below
-- lets through); the trail holds no e-mail address.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_identity_id_fkey;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.event = OLD.event AND NEW.created_at = OLD.created_at
       AND NEW.request_id = OLD.request_id AND NEW.actor = OLD.actor THEN
        -- Pseudonymisation of a deleted identity's events: IP and user
        -- agent are blanked, nothing else changes.
        IF NEW.identity_id IS NOT DISTINCT FROM OLD.identity_id AND NEW.ip = '' AND NEW.user_agent = '' THEN
            RETURN NEW;
        END IF;
        -- The foreign key's ON DELETE SET NULL, should a down migration
        -- bring it back.
        IF NEW.identity_id IS NULL AND OLD.identity_id IS NOT NULL AND NEW.ip = OLD.ip AND NEW.user_agent = OLD.user_agent THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
-- +goose StatementEnd

-- The admin API's audit query: newest first by id, filtered by identity,
-- event, IP or time.
CREATE INDEX audit_events_identity_id_idx ON audit_events (identity_id, id) WHERE identity_id IS NOT NULL;
CREATE INDEX audit_events_event_id_idx ON audit_events (event, id);
CREATE INDEX audit_events_ip_id_idx ON audit_events (ip, id) WHERE ip <> '';
CREATE INDEX audit_events_created_at_idx ON audit_events (created_at);

-- The admin API's identity list: pages in (created_at, id) order, and
-- e-mail prefixes.
CREATE INDEX identities_created_id_idx ON identities (created_at, id);
CREATE INDEX identities_email_prefix_idx ON identities (lower(email) text_pattern_ops);

-- An e-mail change: the link to the new address (email_change, its email
-- the new address) and the "this was not me" link to the old one
-- (email_change_cancel, its email the old address).
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('recovery', 'verification', 'email_change', 'email_change_cancel'));

-- +goose Down
DELETE FROM one_time_tokens WHERE purpose IN ('email_change', 'email_change_cancel');
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check CHECK (purpose IN ('recovery', 'verification'));
DROP INDEX identities_email_prefix_idx;
DROP INDEX identities_created_id_idx;
DROP INDEX audit_events_created_at_idx;
DROP INDEX audit_events_ip_id_idx;
DROP INDEX audit_events_event_id_idx;
DROP INDEX audit_events_identity_id_idx;
-- Events of deleted identities lose their id again, as the foreign key
-- would have had it.
UPDATE audit_events SET identity_id = NULL
    WHERE identity_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = audit_events.identity_id);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_identity_id_fkey
    FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE SET NULL;
ALTER TABLE audit_events DROP COLUMN actor;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.identity_id IS NULL AND OLD.identity_id IS NOT NULL
       AND NEW.event = OLD.event AND NEW.created_at = OLD.created_at THEN
        RETURN NEW; -- the foreign key's ON DELETE SET NULL
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
-- +goose StatementEnd
