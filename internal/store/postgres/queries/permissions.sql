-- name: ListRanks :many
SELECT * FROM permission_ranks WHERE guild_id = $1 ORDER BY rank;

-- name: UpsertRank :exec
INSERT INTO permission_ranks (guild_id, rank, name, description) VALUES ($1, $2, $3, $4)
ON CONFLICT (guild_id, rank) DO UPDATE SET name = excluded.name, description = excluded.description;

-- name: DeleteRank :execrows
DELETE FROM permission_ranks WHERE guild_id = $1 AND rank = $2;

-- name: ListRoleRanks :many
SELECT * FROM role_ranks WHERE guild_id = $1 ORDER BY rank DESC, role_id;

-- name: UpsertRoleRank :exec
INSERT INTO role_ranks (guild_id, role_id, rank) VALUES ($1, $2, $3)
ON CONFLICT (guild_id, role_id) DO UPDATE SET rank = excluded.rank;

-- name: DeleteRoleRank :execrows
DELETE FROM role_ranks WHERE guild_id = $1 AND role_id = $2;

-- name: ListCommandRanks :many
SELECT * FROM command_ranks WHERE guild_id = $1 ORDER BY command;

-- name: UpsertCommandRank :exec
INSERT INTO command_ranks (guild_id, command, rank) VALUES ($1, $2, $3)
ON CONFLICT (guild_id, command) DO UPDATE SET rank = excluded.rank;

-- name: DeleteCommandRank :execrows
DELETE FROM command_ranks WHERE guild_id = $1 AND command = $2;

-- name: InsertPermissionEvent :exec
INSERT INTO permission_events (guild_id, actor_id, key, old_value, new_value, created_at)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: PermissionEvents :many
-- Newest first: the history a moderator asks for is the recent one.
SELECT * FROM permission_events WHERE guild_id = $1 ORDER BY id DESC LIMIT $2;
