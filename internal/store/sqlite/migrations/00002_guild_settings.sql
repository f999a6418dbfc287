-- Per-guild settings, permission ranks, and the append-only history of every change to them.
-- Kept in lockstep with ../postgres/00002_guild_settings.sql: same tables, columns and versions.
-- Times are Unix milliseconds; booleans are 0/1. SQLite has no regular expressions, so the
-- format CHECKs are spelled with GLOB; they accept what the PostgreSQL ones accept.

-- +goose Up
CREATE TABLE guild_settings (
    guild_id                INTEGER PRIMARY KEY REFERENCES guilds (id),
    prefix                  TEXT    NOT NULL DEFAULT '$' CHECK (length(prefix) BETWEEN 1 AND 5 AND prefix NOT GLOB ('*[' || char(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 96, 127) || ']*')),
    modlog_channel_id       INTEGER CHECK (modlog_channel_id IS NULL OR modlog_channel_id > 0),
    auditlog_channel_id     INTEGER CHECK (auditlog_channel_id IS NULL OR auditlog_channel_id > 0),
    jail_role_id            INTEGER CHECK (jail_role_id IS NULL OR jail_role_id > 0),
    jail_channel_id         INTEGER CHECK (jail_channel_id IS NULL OR jail_channel_id > 0),
    mirror_external_actions INTEGER NOT NULL DEFAULT 1 CHECK (mirror_external_actions IN (0, 1)),
    updated_at              INTEGER NOT NULL
) STRICT;

CREATE TABLE permission_ranks (
    guild_id    INTEGER NOT NULL REFERENCES guilds (id),
    rank        INTEGER NOT NULL CHECK (rank BETWEEN 0 AND 10),
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description TEXT    NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    PRIMARY KEY (guild_id, rank),
    CONSTRAINT permission_ranks_guild_name UNIQUE (guild_id, name)
) STRICT;

CREATE TABLE role_ranks (
    guild_id INTEGER NOT NULL,
    role_id  INTEGER NOT NULL CHECK (role_id > 0),
    rank     INTEGER NOT NULL,
    PRIMARY KEY (guild_id, role_id),
    FOREIGN KEY (guild_id, rank) REFERENCES permission_ranks (guild_id, rank) ON DELETE CASCADE
) STRICT;

CREATE TABLE command_ranks (
    guild_id INTEGER NOT NULL REFERENCES guilds (id),
    command  TEXT    NOT NULL CHECK (length(command) BETWEEN 1 AND 100
                                     AND command NOT GLOB '*[^a-z0-9_ -]*'
                                     AND command NOT GLOB ' *' AND command NOT GLOB '* '
                                     AND instr(command, '  ') = 0),
    rank     INTEGER NOT NULL CHECK (rank BETWEEN 0 AND 10),
    PRIMARY KEY (guild_id, command)
) STRICT;

CREATE TABLE settings_events (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL REFERENCES guilds (id),
    actor_id   INTEGER NOT NULL CHECK (actor_id > 0),
    key        TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    old_value  TEXT,
    new_value  TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX settings_events_guild ON settings_events (guild_id, id);

-- History is evidence: the database itself refuses to rewrite it.
-- +goose StatementBegin
CREATE TRIGGER settings_events_no_update BEFORE UPDATE ON settings_events BEGIN
    SELECT RAISE(ABORT, 'settings_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER settings_events_no_delete BEFORE DELETE ON settings_events BEGIN
    SELECT RAISE(ABORT, 'settings_events is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER settings_events_no_delete;
DROP TRIGGER settings_events_no_update;
DROP TABLE settings_events;
DROP TABLE command_ranks;
DROP TABLE role_ranks;
DROP TABLE permission_ranks;
DROP TABLE guild_settings;
