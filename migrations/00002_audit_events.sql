-- +goose Up
-- The audit trail is append-only: the application role only inserts and
-- reads. It never holds passwords, tokens or cookies.
CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identity_id uuid REFERENCES identities (id) ON DELETE SET NULL,
    event       text        NOT NULL CHECK (length(event) BETWEEN 1 AND 64),
    ip          text        NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    user_agent  text        NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    request_id  text        NOT NULL DEFAULT '' CHECK (length(request_id) <= 64),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_events_identity_created_idx ON audit_events (identity_id, created_at DESC) WHERE identity_id IS NOT NULL;

-- Rows are never changed once written, even by mistake.
-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.identity_id IS NULL AND OLD.identity_id IS NOT NULL
       AND NEW.event = OLD.event AND NEW.created_at = OLD.created_at THEN
        RETURN NEW; -- the foreign key's ON DELETE SET NULL
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
