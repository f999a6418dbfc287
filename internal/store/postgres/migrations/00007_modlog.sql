-- The mod log follows its cases: where a case's message is, and the outbox of posts and
-- edits still to deliver. Kept in lockstep with ../sqlite/00007_modlog.sql.

-- +goose Up
-- A case's mod-log message is (channel, message): edits go where the message is, even after
-- the guild's mod-log channel changes.
ALTER TABLE cases ADD COLUMN modlog_channel_id BIGINT CHECK (modlog_channel_id IS NULL OR modlog_channel_id > 0);
-- Messages posted before this migration were posted in the channel the guild has now (until
-- now an edit went there too): that is the best knowledge there is.
UPDATE cases SET modlog_channel_id = (SELECT s.modlog_channel_id FROM guild_settings s WHERE s.guild_id = cases.guild_id)
WHERE modlog_message_id IS NOT NULL;

-- One row per case whose mod-log message must be posted or re-rendered. It is written in the
-- transaction that changes the case, so a crash loses none; the worker renders the case as it
-- is when it delivers, so several changes make one row and one edit. generation counts the
-- changes, so a delivery that raced a newer change leaves the row for the next one.
CREATE TABLE modlog_outbox (
    case_id     BIGINT PRIMARY KEY REFERENCES cases (id),
    guild_id    BIGINT NOT NULL,
    generation  BIGINT NOT NULL DEFAULT 1,
    run_at      BIGINT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX modlog_outbox_due ON modlog_outbox (run_at, case_id);

-- +goose Down
DROP TABLE modlog_outbox;
ALTER TABLE cases DROP COLUMN modlog_channel_id;
