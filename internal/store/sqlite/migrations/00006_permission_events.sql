-- The permissions package's own history: every change to a guild's ranks, role ranks and
-- command ranks. Until this migration those rows lived in settings_events beside the
-- settings' own; they move here, in their order, and settings_events keeps the settings.
-- Kept in lockstep with ../postgres/00006_permission_events.sql.

-- +goose Up
CREATE TABLE permission_events (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL REFERENCES guilds (id),
    actor_id   INTEGER NOT NULL CHECK (actor_id > 0),
    key        TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    old_value  TEXT,
    new_value  TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX permission_events_guild ON permission_events (guild_id, id);

-- History is evidence: the database itself refuses to rewrite it.
-- +goose StatementBegin
CREATE TRIGGER permission_events_no_update BEFORE UPDATE ON permission_events BEGIN
    SELECT RAISE(ABORT, 'permission_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER permission_events_no_delete BEFORE DELETE ON permission_events BEGIN
    SELECT RAISE(ABORT, 'permission_events is append-only');
END;
-- +goose StatementEnd

INSERT INTO permission_events (guild_id, actor_id, key, old_value, new_value, created_at)
SELECT guild_id, actor_id, key, old_value, new_value, created_at FROM settings_events
WHERE key LIKE 'rank %' OR key LIKE 'role %' OR key LIKE 'command %'
ORDER BY id;

-- The rows moved, not copied: the append-only guard steps aside for this one delete.
DROP TRIGGER settings_events_no_delete;
DELETE FROM settings_events WHERE key LIKE 'rank %' OR key LIKE 'role %' OR key LIKE 'command %';
-- +goose StatementBegin
CREATE TRIGGER settings_events_no_delete BEFORE DELETE ON settings_events BEGIN
    SELECT RAISE(ABORT, 'settings_events is append-only');
END;
-- +goose StatementEnd

-- +goose Down
INSERT INTO settings_events (guild_id, actor_id, key, old_value, new_value, created_at)
SELECT guild_id, actor_id, key, old_value, new_value, created_at FROM permission_events ORDER BY id;
DROP TRIGGER permission_events_no_delete;
DROP TRIGGER permission_events_no_update;
DROP TABLE permission_events;
