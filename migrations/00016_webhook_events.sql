-- +goose Up
-- Audit events waiting for delivery to WEBHOOK_URL. A row is written in
-- the transaction of its audit event and deleted once the receiver has
-- acknowledged it (or it was given up), so the table is the backlog.
-- stream orders delivery: the events of one identity go out one at a
-- time, in id order; an event without an identity is a stream of its own.
-- body is the JSON sent, which never holds a password, token, cookie or
-- hash.
CREATE TABLE webhook_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  text        NOT NULL UNIQUE CHECK (length(message_id) BETWEEN 1 AND 64),
    stream      text        NOT NULL CHECK (length(stream) BETWEEN 1 AND 64),
    body        bytea       NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE INDEX webhook_events_stream_idx ON webhook_events (stream, id);
CREATE INDEX webhook_events_created_at_idx ON webhook_events (created_at);

-- One delivery at a time per stream, across instances: a worker leases
-- the stream until lease_until, renews the lease as it goes and deletes it
-- when done. A worker that died leaves a lease that runs out.
CREATE TABLE webhook_streams (
    stream      text        PRIMARY KEY,
    holder      text        NOT NULL,
    lease_until timestamptz NOT NULL
);

-- +goose Down
DROP TABLE webhook_streams;
DROP TABLE webhook_events;
