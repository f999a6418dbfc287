-- name: ListGavelRules :many
SELECT * FROM automod_gavel_rules WHERE guild_id = $1 ORDER BY position, name;

-- name: DeleteGavelRules :exec
DELETE FROM automod_gavel_rules WHERE guild_id = $1;

-- name: InsertGavelRule :exec
INSERT INTO automod_gavel_rules (guild_id, name, position, rule, updated_at) VALUES ($1, $2, $3, $4, $5);

-- name: BumpGavelVersion :one
INSERT INTO automod_gavel_versions (guild_id, version, updated_at) VALUES ($1, 1, $2)
ON CONFLICT (guild_id) DO UPDATE SET version = automod_gavel_versions.version + 1, updated_at = excluded.updated_at
RETURNING version;

-- name: GavelVersion :one
-- 0 for a guild whose gavel-enforced rules were never set.
SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS version FROM automod_gavel_versions WHERE guild_id = $1;

-- name: ClaimAutomodKey :execrows
-- Claims a key: 1 row when it was new, or when it was last claimed before stale_before (a
-- blocked message has no id, so its key is only unique for a while); 0 when it is taken.
INSERT INTO automod_seen (guild_id, dedupe_key, seen_at) VALUES ($1, $2, $3)
ON CONFLICT (guild_id, dedupe_key) DO UPDATE SET seen_at = excluded.seen_at, case_id = NULL
WHERE automod_seen.seen_at < sqlc.arg(stale_before);

-- name: SetAutomodKeyCase :exec
UPDATE automod_seen SET case_id = $3 WHERE guild_id = $1 AND dedupe_key = $2;

-- name: ReleaseAutomodKey :exec
-- Gives a claimed key back when its case could not be made, so that a later event retries.
DELETE FROM automod_seen WHERE guild_id = $1 AND dedupe_key = $2 AND case_id IS NULL;
