-- Per-guild settings, permission ranks, and the append-only history of every change to them.
-- Kept in lockstep with ../sqlite/00002_guild_settings.sql: same tables, columns and versions.
-- The CHECKs repeat the rules internal/settings and internal/permissions enforce with clear
-- messages, so that a write from anywhere else cannot leave a value the bot would refuse.

-- +goose Up
-- A guild with no row here has the defaults (prefix '$', no channels, mirroring on). The row
-- is also the per-guild lock that serialises configuration changes across processes.
CREATE TABLE guild_settings (
    guild_id                BIGINT  PRIMARY KEY REFERENCES guilds (id),
    prefix                  TEXT    NOT NULL DEFAULT '$' CHECK (char_length(prefix) BETWEEN 1 AND 5 AND prefix !~ '[[:space:][:cntrl:]`]'),
    modlog_channel_id       BIGINT  CHECK (modlog_channel_id IS NULL OR modlog_channel_id > 0),
    auditlog_channel_id     BIGINT  CHECK (auditlog_channel_id IS NULL OR auditlog_channel_id > 0),
    jail_role_id            BIGINT  CHECK (jail_role_id IS NULL OR jail_role_id > 0),
    jail_channel_id         BIGINT  CHECK (jail_channel_id IS NULL OR jail_channel_id > 0),
    mirror_external_actions BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at              BIGINT  NOT NULL
);

CREATE TABLE permission_ranks (
    guild_id    BIGINT  NOT NULL REFERENCES guilds (id),
    rank        INTEGER NOT NULL CHECK (rank BETWEEN 0 AND 10),
    name        TEXT    NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description TEXT    NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
    PRIMARY KEY (guild_id, rank),
    CONSTRAINT permission_ranks_guild_name UNIQUE (guild_id, name)
);

-- A role has one rank. Deleting a rank takes its role assignments with it (the service
-- records each one in the history first).
CREATE TABLE role_ranks (
    guild_id BIGINT  NOT NULL,
    role_id  BIGINT  NOT NULL CHECK (role_id > 0),
    rank     INTEGER NOT NULL,
    PRIMARY KEY (guild_id, role_id),
    FOREIGN KEY (guild_id, rank) REFERENCES permission_ranks (guild_id, rank) ON DELETE CASCADE
);

-- No foreign key to permission_ranks: a command may require a rank before the guild has
-- named it (or after it was deleted), which then only the owners reach.
CREATE TABLE command_ranks (
    guild_id BIGINT  NOT NULL REFERENCES guilds (id),
    command  TEXT    NOT NULL CHECK (char_length(command) <= 100 AND command ~ '^[a-z0-9_-]+( [a-z0-9_-]+)*$'),
    rank     INTEGER NOT NULL CHECK (rank BETWEEN 0 AND 10),
    PRIMARY KEY (guild_id, command)
);

-- key is "prefix", "modlog_channel", …, "rank 3", "rank 3 description", "role 123",
-- "command ban"; a NULL value means "not set".
CREATE TABLE settings_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id   BIGINT NOT NULL REFERENCES guilds (id),
    actor_id   BIGINT NOT NULL CHECK (actor_id > 0),
    key        TEXT   NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
    old_value  TEXT,
    new_value  TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX settings_events_guild ON settings_events (guild_id, id);

-- History is evidence: the database itself refuses to rewrite it.
-- +goose StatementBegin
CREATE FUNCTION settings_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'settings_events is append-only';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER settings_events_append_only BEFORE UPDATE OR DELETE ON settings_events
    FOR EACH ROW EXECUTE FUNCTION settings_events_append_only();

-- +goose Down
DROP TRIGGER settings_events_append_only ON settings_events;
DROP FUNCTION settings_events_append_only();
DROP TABLE settings_events;
DROP TABLE command_ranks;
DROP TABLE role_ranks;
DROP TABLE permission_ranks;
DROP TABLE guild_settings;
