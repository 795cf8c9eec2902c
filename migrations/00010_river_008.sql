-- River job queue schema, version 8 (job id autoincrement), generated from
-- github.com/riverqueue/river/rivermigrate v0.51.2 for goose.

-- +goose Up
-- +goose StatementBegin
-- No-op. Postgres sequences already prevent automatically generated job IDs
-- from being reused.
SELECT 1;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
-- No-op. Postgres sequences already prevent automatically generated job IDs
-- from being reused.
SELECT 1;
-- +goose StatementEnd
