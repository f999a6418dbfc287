-- name: GetGuildSettings :one
SELECT * FROM guild_settings WHERE guild_id = ?1;

-- name: LockGuildSettings :one
-- Creates the guild's settings row with the defaults when it has none, takes its row lock for
-- the rest of the transaction (a no-op update, portable where SELECT ... FOR UPDATE is not),
-- and returns the settings as they were. Every configuration change, settings or
-- permissions, goes through it first, so changes to one guild serialise across processes and
-- the history records true old values.
INSERT INTO guild_settings (guild_id, updated_at) VALUES (?1, ?2)
ON CONFLICT (guild_id) DO UPDATE SET updated_at = guild_settings.updated_at
RETURNING *;

-- name: UpdateGuildSettings :exec
UPDATE guild_settings
SET prefix = ?2, modlog_channel_id = ?3, auditlog_channel_id = ?4, jail_role_id = ?5,
    jail_channel_id = ?6, mirror_external_actions = ?7, updated_at = ?8
WHERE guild_id = ?1;

-- name: InsertSettingsEvent :exec
INSERT INTO settings_events (guild_id, actor_id, key, old_value, new_value, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: SettingsEvents :many
-- Newest first: the history a moderator asks for is the recent one.
SELECT * FROM settings_events WHERE guild_id = ?1 ORDER BY id DESC LIMIT ?2;
