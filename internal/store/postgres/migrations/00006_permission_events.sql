-- The permissions package's own history: every change to a guild's ranks, role ranks and
-- command ranks. Until this migration those rows lived in settings_events beside the
-- settings' own; they move here, in their order, and settings_events keeps the settings.
-- Kept in lockstep with ../sqlite/00006_permission_events.sql.

-- +goose Up
CREATE TABLE permission_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id   BIGINT NOT NULL REFERENCES guilds (id),
    actor_id   BIGINT NOT NULL CHECK (actor_id > 0),
    key        TEXT   NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
    old_value  TEXT,
    new_value  TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX permission_events_guild ON permission_events (guild_id, id);

-- History is evidence: the database itself refuses to rewrite it.
-- +goose StatementBegin
CREATE FUNCTION permission_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'permission_events is append-only';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER permission_events_append_only BEFORE UPDATE OR DELETE ON permission_events
    FOR EACH ROW EXECUTE FUNCTION permission_events_append_only();

INSERT INTO permission_events (guild_id, actor_id, key, old_value, new_value, created_at)
SELECT guild_id, actor_id, key, old_value, new_value, created_at FROM settings_events
WHERE key LIKE 'rank %' OR key LIKE 'role %' OR key LIKE 'command %'
ORDER BY id;

-- The rows moved, not copied: the append-only guard steps aside for this one delete.
ALTER TABLE settings_events DISABLE TRIGGER settings_events_append_only;
DELETE FROM settings_events WHERE key LIKE 'rank %' OR key LIKE 'role %' OR key LIKE 'command %';
ALTER TABLE settings_events ENABLE TRIGGER settings_events_append_only;

-- +goose Down
INSERT INTO settings_events (guild_id, actor_id, key, old_value, new_value, created_at)
SELECT guild_id, actor_id, key, old_value, new_value, created_at FROM permission_events ORDER BY id;
DROP TRIGGER permission_events_append_only ON permission_events;
DROP FUNCTION permission_events_append_only();
DROP TABLE permission_events;
