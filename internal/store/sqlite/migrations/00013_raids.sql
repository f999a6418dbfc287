-- Raid defence (docs/raids.md): each guild's raid settings (owned by package settings, whose
-- history rows record every change), the raids themselves (owned by package raid), the
-- RAID case type (a raid's parent case) and the raid's scheduled check.
-- Kept in lockstep with ../postgres/00013_raids.sql: same tables, columns and versions.

-- +goose Up
CREATE TABLE raid_settings (
    guild_id               INTEGER PRIMARY KEY REFERENCES guilds (id),
    enabled                INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    threshold              INTEGER NOT NULL DEFAULT 10 CHECK (threshold BETWEEN 3 AND 100),
    window_seconds         INTEGER NOT NULL DEFAULT 10 CHECK (window_seconds BETWEEN 5 AND 300),
    quiet_seconds          INTEGER NOT NULL DEFAULT 600 CHECK (quiet_seconds BETWEEN 120 AND 3600),
    discord_signal         INTEGER NOT NULL DEFAULT 0 CHECK (discord_signal IN (0, 1)),
    pause_invites          INTEGER NOT NULL DEFAULT 1 CHECK (pause_invites IN (0, 1)),
    pause_dms              INTEGER NOT NULL DEFAULT 0 CHECK (pause_dms IN (0, 1)),
    raise_verification     INTEGER NOT NULL DEFAULT 1 CHECK (raise_verification IN (0, 1)),
    joiner_action          TEXT    NOT NULL DEFAULT 'timeout' CHECK (joiner_action IN ('none', 'timeout', 'kick', 'ban')),
    joiner_timeout_seconds INTEGER NOT NULL DEFAULT 86400 CHECK (joiner_timeout_seconds BETWEEN 60 AND 2419200),
    updated_at             INTEGER NOT NULL
) STRICT;

CREATE TABLE raids (
    id                   INTEGER PRIMARY KEY,
    guild_id             INTEGER NOT NULL REFERENCES guilds (id),
    number               INTEGER NOT NULL CHECK (number >= 1),
    case_id              INTEGER NOT NULL REFERENCES cases (id),
    trigger              TEXT    NOT NULL CHECK (trigger IN ('rate', 'suspicious', 'discord', 'manual')),
    started_at           INTEGER NOT NULL,
    started_by           INTEGER NOT NULL CHECK (started_by > 0),
    last_join_at         INTEGER NOT NULL,
    invites_until        INTEGER,
    dms_until            INTEGER,
    verification_before  INTEGER,
    verification_set     INTEGER,
    ended_at             INTEGER,
    ended_by             INTEGER,
    end_reason           TEXT,
    CONSTRAINT raids_guild_number UNIQUE (guild_id, number)
) STRICT;
CREATE UNIQUE INDEX raids_open ON raids (guild_id) WHERE ended_at IS NULL;
CREATE INDEX raids_case ON raids (case_id);

CREATE TABLE raid_members (
    raid_id            INTEGER NOT NULL REFERENCES raids (id),
    user_id            INTEGER NOT NULL CHECK (user_id > 0),
    username           TEXT    NOT NULL,
    joined_at          INTEGER NOT NULL,
    account_created_at INTEGER NOT NULL,
    default_avatar     INTEGER NOT NULL CHECK (default_avatar IN (0, 1)),
    rejoined           INTEGER NOT NULL CHECK (rejoined IN (0, 1)),
    after_detection    INTEGER NOT NULL CHECK (after_detection IN (0, 1)),
    state              TEXT    NOT NULL DEFAULT 'candidate' CHECK (state IN ('candidate', 'released', 'timed_out', 'kicked', 'banned', 'failed')),
    case_id            INTEGER REFERENCES cases (id),
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (raid_id, user_id)
) STRICT;

CREATE TABLE raid_events (
    id         INTEGER PRIMARY KEY,
    raid_id    INTEGER NOT NULL REFERENCES raids (id),
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    actor_id   INTEGER NOT NULL CHECK (actor_id > 0),
    detail     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX raid_events_raid ON raid_events (raid_id, id);

-- +goose StatementBegin
CREATE TRIGGER raid_events_no_update BEFORE UPDATE ON raid_events BEGIN
    SELECT RAISE(ABORT, 'raid_events is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER raid_events_no_delete BEFORE DELETE ON raid_events BEGIN
    SELECT RAISE(ABORT, 'raid_events is append-only');
END;
-- +goose StatementEnd

-- SQLite cannot alter a CHECK, and rebuilding cases (with its triggers, its full-text index
-- and every table that references it) to widen a list is a risk for nothing: the widening
-- is written into the stored schema directly, the procedure SQLite documents for loosening
-- a constraint (every existing row still satisfies the wider CHECK). The CREATE TABLEs above
-- changed the schema cookie in this transaction, so every connection re-reads the schema.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''NOTE'', ''AUTOMOD'')', '''NOTE'', ''AUTOMOD'', ''RAID'')')
WHERE type = 'table' AND name = 'cases';
UPDATE sqlite_schema SET sql = replace(sql, '''timeout_renew'', ''timeout_expire'')', '''timeout_renew'', ''timeout_expire'', ''raid_check'')')
WHERE type = 'table' AND name = 'scheduled_actions';
PRAGMA writable_schema = RESET;

-- +goose Down
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''timeout_renew'', ''timeout_expire'', ''raid_check'')', '''timeout_renew'', ''timeout_expire'')')
WHERE type = 'table' AND name = 'scheduled_actions';
UPDATE sqlite_schema SET sql = replace(sql, '''NOTE'', ''AUTOMOD'', ''RAID'')', '''NOTE'', ''AUTOMOD'')')
WHERE type = 'table' AND name = 'cases';
PRAGMA writable_schema = RESET;
DROP TABLE raid_events;
DROP TABLE raid_members;
DROP TABLE raids;
DROP TABLE raid_settings;
