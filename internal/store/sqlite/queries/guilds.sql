-- name: GetGuild :one
SELECT id, case_count, joined_at, left_at FROM guilds WHERE id = ?1;

-- name: GuildJoined :exec
INSERT INTO guilds (id, case_count, joined_at, left_at) VALUES (?1, 0, ?2, NULL)
ON CONFLICT (id) DO UPDATE SET joined_at = excluded.joined_at, left_at = NULL;

-- name: GuildLeft :execrows
UPDATE guilds SET left_at = ?2 WHERE id = ?1;

-- name: EnsureGuild :exec
-- Settings may be written before the guild's first case: the row must exist for the foreign
-- keys, and an existing row (its counter, its join time) is left as it is.
INSERT INTO guilds (id, case_count, joined_at, left_at) VALUES (?1, 0, ?2, NULL)
ON CONFLICT (id) DO NOTHING;

-- name: PresentGuilds :many
-- The guilds gavel is in, as the process holding the gateway recorded them.
SELECT id FROM guilds WHERE left_at IS NULL ORDER BY id;
