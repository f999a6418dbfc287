-- name: InsertLockdown :one
INSERT INTO lockdowns (guild_id, case_id, server, reason, started_at, started_by, ends_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
RETURNING *;

-- name: GetLockdown :one
SELECT * FROM lockdowns WHERE id = ?1;

-- name: GetLockdownByCase :one
SELECT * FROM lockdowns WHERE case_id = ?1;

-- name: OpenLockdowns :many
SELECT * FROM lockdowns WHERE guild_id = ?1 AND ended_at IS NULL ORDER BY id;

-- name: SetLockdownInvites :exec
UPDATE lockdowns SET invites_until = ?2 WHERE id = ?1;

-- name: EndLockdown :exec
UPDATE lockdowns SET ended_at = ?2, ended_by = ?3, end_reason = ?4 WHERE id = ?1 AND ended_at IS NULL;

-- name: InsertLockdownChannel :exec
INSERT INTO lockdown_channels (lockdown_id, channel_id, guild_id, name, type, parent_id, synced, state, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9);

-- name: SetLockdownChannelState :exec
UPDATE lockdown_channels SET state = ?3, updated_at = ?4 WHERE lockdown_id = ?1 AND channel_id = ?2;

-- name: LockdownChannels :many
SELECT * FROM lockdown_channels WHERE lockdown_id = ?1 ORDER BY channel_id;

-- name: HeldLockdownChannels :many
SELECT * FROM lockdown_channels WHERE guild_id = ?1 AND state IN ('pending', 'locked') ORDER BY lockdown_id, channel_id;

-- name: CountHeldLockdownChannels :one
SELECT COUNT(*) FROM lockdown_channels WHERE lockdown_id = ?1 AND state IN ('pending', 'locked');

-- name: InsertLockdownOverwrite :exec
INSERT INTO lockdown_overwrites (lockdown_id, channel_id, overwrite_id, overwrite_type, before_absent, before_allow, before_deny, set_allow, set_deny)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9);

-- name: LockdownOverwrites :many
SELECT * FROM lockdown_overwrites WHERE lockdown_id = ?1 ORDER BY channel_id, overwrite_id;

-- name: LockdownChannelOverwrites :many
SELECT * FROM lockdown_overwrites WHERE lockdown_id = ?1 AND channel_id = ?2 ORDER BY overwrite_id;

-- name: SetLockdownOverwriteOutcome :exec
UPDATE lockdown_overwrites SET outcome = ?4, found = ?5 WHERE lockdown_id = ?1 AND channel_id = ?2 AND overwrite_id = ?3;
