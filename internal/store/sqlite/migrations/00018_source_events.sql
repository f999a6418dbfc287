-- Every event gavel handles is handled once. Kept in lockstep with
-- ../postgres/00018_source_events.sql, which says why.

-- +goose Up
ALTER TABLE cases ADD COLUMN source_event_id INTEGER CHECK (source_event_id IS NULL OR source_event_id > 0);
CREATE UNIQUE INDEX cases_source_event ON cases (guild_id, source_event_id) WHERE source_event_id IS NOT NULL;

CREATE TABLE processed_events (
    guild_id   INTEGER NOT NULL CHECK (guild_id > 0),
    event_id   INTEGER NOT NULL CHECK (event_id > 0),
    command    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, event_id)
) STRICT;

CREATE INDEX processed_events_created ON processed_events (created_at);

-- +goose Down
DROP TABLE processed_events;
DROP INDEX cases_source_event;
ALTER TABLE cases DROP COLUMN source_event_id;
