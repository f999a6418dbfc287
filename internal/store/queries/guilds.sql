-- name: GetGuild :one
SELECT id, case_count, joined_at, left_at FROM guilds WHERE id = $1;

-- name: GuildJoined :exec
INSERT INTO guilds (id, case_count, joined_at, left_at) VALUES ($1, 0, $2, NULL)
ON CONFLICT (id) DO UPDATE SET joined_at = excluded.joined_at, left_at = NULL;

-- name: GuildLeft :execrows
UPDATE guilds SET left_at = $2 WHERE id = $1;
