-- Lockdowns (docs/raids.md#lockdown): each lockdown (owned by package lockdown) with its
-- LOCKDOWN case, the channels it holds, and the snapshot of every overwrite it touched
-- (what it was, what gavel set, and what became of it at unlock); the LOCKDOWN case type
-- and the lockdown's scheduled check (its timed end and its invite-pause renewals).
-- Kept in lockstep with ../postgres/00021_lockdowns.sql: same tables, columns and versions.

-- +goose Up
CREATE TABLE lockdowns (
    id            INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL REFERENCES guilds (id),
    case_id       INTEGER NOT NULL REFERENCES cases (id),
    server        INTEGER NOT NULL CHECK (server IN (0, 1)),
    reason        TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    started_by    INTEGER NOT NULL CHECK (started_by > 0),
    ends_at       INTEGER,
    invites_until INTEGER,
    ended_at      INTEGER,
    ended_by      INTEGER,
    end_reason    TEXT
) STRICT;
CREATE INDEX lockdowns_open ON lockdowns (guild_id) WHERE ended_at IS NULL;
CREATE UNIQUE INDEX lockdowns_case ON lockdowns (case_id);

CREATE TABLE lockdown_channels (
    lockdown_id INTEGER NOT NULL REFERENCES lockdowns (id),
    channel_id  INTEGER NOT NULL CHECK (channel_id > 0),
    guild_id    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    type        INTEGER NOT NULL,
    parent_id   INTEGER NOT NULL DEFAULT 0,
    synced      INTEGER NOT NULL CHECK (synced IN (0, 1)),
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'locked', 'unlocked', 'superseded')),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (lockdown_id, channel_id)
) STRICT;
CREATE INDEX lockdown_channels_held ON lockdown_channels (guild_id, channel_id) WHERE state IN ('pending', 'locked');

CREATE TABLE lockdown_overwrites (
    lockdown_id    INTEGER NOT NULL REFERENCES lockdowns (id),
    channel_id     INTEGER NOT NULL,
    overwrite_id   INTEGER NOT NULL CHECK (overwrite_id > 0),
    overwrite_type INTEGER NOT NULL CHECK (overwrite_type IN (0, 1)),
    before_absent  INTEGER NOT NULL CHECK (before_absent IN (0, 1)),
    before_allow   INTEGER NOT NULL,
    before_deny    INTEGER NOT NULL,
    set_allow      INTEGER NOT NULL,
    set_deny       INTEGER NOT NULL,
    outcome        TEXT    NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'set', 'restored', 'deleted', 'unchanged', 'changed', 'superseded', 'failed')),
    found          TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (lockdown_id, channel_id, overwrite_id)
) STRICT;

-- The widening is written into the stored schema, as 00013 did for RAID (see the note there).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''NOTE'', ''AUTOMOD'', ''RAID'')', '''NOTE'', ''AUTOMOD'', ''RAID'', ''LOCKDOWN'')')
WHERE type = 'table' AND name = 'cases';
UPDATE sqlite_schema SET sql = replace(sql, '''timeout_expire'', ''raid_check'')', '''timeout_expire'', ''raid_check'', ''lockdown_check'')')
WHERE type = 'table' AND name = 'scheduled_actions';
PRAGMA writable_schema = RESET;

-- +goose Down
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''timeout_expire'', ''raid_check'', ''lockdown_check'')', '''timeout_expire'', ''raid_check'')')
WHERE type = 'table' AND name = 'scheduled_actions';
UPDATE sqlite_schema SET sql = replace(sql, '''NOTE'', ''AUTOMOD'', ''RAID'', ''LOCKDOWN'')', '''NOTE'', ''AUTOMOD'', ''RAID'')')
WHERE type = 'table' AND name = 'cases';
PRAGMA writable_schema = RESET;
DROP TABLE lockdown_overwrites;
DROP TABLE lockdown_channels;
DROP TABLE lockdowns;
