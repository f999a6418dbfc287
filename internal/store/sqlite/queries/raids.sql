-- name: GetRaidSettings :one
SELECT * FROM raid_settings WHERE guild_id = ?1;

-- name: UpsertRaidSettings :exec
INSERT INTO raid_settings (guild_id, enabled, threshold, window_seconds, quiet_seconds, discord_signal, pause_invites,
    pause_dms, raise_verification, joiner_action, joiner_timeout_seconds, updated_at, lockdown)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT (guild_id) DO UPDATE SET enabled = excluded.enabled, threshold = excluded.threshold,
    window_seconds = excluded.window_seconds, quiet_seconds = excluded.quiet_seconds, discord_signal = excluded.discord_signal,
    pause_invites = excluded.pause_invites, pause_dms = excluded.pause_dms, raise_verification = excluded.raise_verification,
    joiner_action = excluded.joiner_action, joiner_timeout_seconds = excluded.joiner_timeout_seconds, updated_at = excluded.updated_at,
    lockdown = excluded.lockdown;

-- name: EnabledRaidGuilds :many
SELECT guild_id FROM raid_settings WHERE enabled = 1 ORDER BY guild_id;

-- name: NextRaidNumber :one
SELECT CAST(COALESCE(MAX(number), 0) + 1 AS INTEGER) AS next FROM raids WHERE guild_id = ?1;

-- name: InsertRaid :one
INSERT INTO raids (guild_id, number, case_id, trigger, started_at, started_by, last_join_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
RETURNING *;

-- name: OpenRaid :one
SELECT * FROM raids WHERE guild_id = ?1 AND ended_at IS NULL;

-- name: OpenRaids :many
SELECT * FROM raids WHERE ended_at IS NULL ORDER BY id;

-- name: GetRaid :one
SELECT * FROM raids WHERE id = ?1;

-- name: GetRaidByNumber :one
SELECT * FROM raids WHERE guild_id = ?1 AND number = ?2;

-- name: GetRaidByCase :one
SELECT * FROM raids WHERE case_id = ?1;

-- name: ListRaids :many
SELECT * FROM raids WHERE guild_id = ?1 ORDER BY number DESC LIMIT ?2;

-- name: SetRaidLastJoin :exec
UPDATE raids SET last_join_at = ?2 WHERE id = ?1 AND last_join_at < ?2;

-- name: SetRaidPauses :exec
UPDATE raids SET invites_until = ?2, dms_until = ?3 WHERE id = ?1;

-- name: SetRaidLockdown :exec
UPDATE raids SET lockdown_id = ?2 WHERE id = ?1;

-- name: SetRaidVerification :exec
UPDATE raids SET verification_before = ?2, verification_set = ?3 WHERE id = ?1;

-- name: EndRaid :exec
UPDATE raids SET ended_at = ?2, ended_by = ?3, end_reason = ?4 WHERE id = ?1 AND ended_at IS NULL;

-- name: InsertRaidMember :execrows
INSERT INTO raid_members (raid_id, user_id, username, joined_at, account_created_at, default_avatar, rejoined, after_detection, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (raid_id, user_id) DO NOTHING;

-- name: RaidMembers :many
SELECT * FROM raid_members WHERE raid_id = ?1 ORDER BY joined_at, user_id;

-- name: GetRaidMember :one
SELECT * FROM raid_members WHERE raid_id = ?1 AND user_id = ?2;

-- name: SetRaidMemberState :exec
UPDATE raid_members SET state = ?3, case_id = ?4, updated_at = ?5 WHERE raid_id = ?1 AND user_id = ?2;

-- name: CountRaidMembers :one
SELECT count(*) FROM raid_members WHERE raid_id = ?1;

-- name: InsertRaidEvent :exec
INSERT INTO raid_events (raid_id, guild_id, kind, actor_id, detail, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: RaidEvents :many
SELECT * FROM raid_events WHERE raid_id = ?1 ORDER BY id;

-- name: ListRaidsBefore :many
SELECT * FROM raids WHERE guild_id = ?1 AND number < ?2 ORDER BY number DESC LIMIT ?3;
