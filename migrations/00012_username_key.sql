-- +goose Up
-- The look-alike key of the username (auth.UsernameKey: NFKC, the UTS #39
-- confusable skeleton, case folding). authd computes it, so that no two
-- identities have usernames that look the same; PostgreSQL cannot, it has
-- no confusables table. Rows written before this migration, or by an older
-- authd during a rolling upgrade, have none until authd's backfill gives
-- them theirs: `authd migrate up` (and AUTO_MIGRATE) runs it after the
-- migrations. A NULL key on a row with a username means "not computed
-- yet" or "an older identity has it" (the backfill logs which); such a row
-- is still unique by lower(username).
ALTER TABLE identities ADD COLUMN username_key text
    CONSTRAINT identities_username_key_needs_username CHECK (username_key IS NULL OR (username IS NOT NULL AND username_key <> ''));

CREATE UNIQUE INDEX identities_username_skeleton_key ON identities (username_key) WHERE username_key IS NOT NULL;

-- What the backfill reads, oldest first; near empty once it has run.
CREATE INDEX identities_username_key_pending_idx ON identities (created_at, id)
    WHERE username IS NOT NULL AND username_key IS NULL;

-- E-mail domains are now stored as A-labels (punycode). The backfill
-- rewrites addresses stored with a U-label domain; this index finds them.
CREATE INDEX identities_email_u_label_idx ON identities (created_at, id)
    WHERE octet_length(split_part(email, '@', 2)) <> char_length(split_part(email, '@', 2));

-- +goose Down
-- Addresses rewritten to A-labels stay so: both are the same address, but
-- an authd from before this migration finds such an account only when the
-- address is typed in its A-label form.
DROP INDEX identities_email_u_label_idx;
DROP INDEX identities_username_key_pending_idx;
DROP INDEX identities_username_skeleton_key;
ALTER TABLE identities DROP COLUMN username_key;
