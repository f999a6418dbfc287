-- Every event gavel handles is handled once, even when the gateway delivers it again (a
-- RESUME replays what a shard missed, and may repeat what it had already handled). Kept in
-- lockstep with ../sqlite/00018_source_events.sql.
--
-- A case made by a command carries the event it came from (the message's id for a prefix
-- command, the interaction's id for a slash command): unique per guild, so a replayed
-- command cannot record a second case. Cases with no source event (expiry lifts, the audit
-- log, reconciliation, AutoMod) leave it NULL, which the partial index does not hold.
--
-- processed_events holds the other commands (tools, refusals): a tool that writes claims
-- its event in the transaction of its change, so the change and the claim commit or roll
-- back together; one that only talks to Discord, or only reads, claims it once it has
-- answered. Rows older than the longest replay window are purged (store.PurgeEvents).

-- +goose Up
ALTER TABLE cases ADD COLUMN source_event_id BIGINT CHECK (source_event_id IS NULL OR source_event_id > 0);
CREATE UNIQUE INDEX cases_source_event ON cases (guild_id, source_event_id) WHERE source_event_id IS NOT NULL;

CREATE TABLE processed_events (
    guild_id   BIGINT NOT NULL CHECK (guild_id > 0),
    event_id   BIGINT NOT NULL CHECK (event_id > 0),
    command    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (guild_id, event_id)
);

CREATE INDEX processed_events_created ON processed_events (created_at);

-- +goose Down
DROP TABLE processed_events;
DROP INDEX cases_source_event;
ALTER TABLE cases DROP COLUMN source_event_id;
