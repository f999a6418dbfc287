-- name: EnsureShardLease :exec
INSERT INTO shard_leases (shard_count, shard_id, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (shard_count, shard_id) DO NOTHING;

-- name: HeartbeatProcess :exec
INSERT INTO shard_processes (owner, started_at, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at;

-- name: LiveProcesses :one
SELECT CAST(COUNT(*) AS BIGINT) AS live FROM shard_processes WHERE expires_at > $1;

-- name: DeleteProcess :exec
DELETE FROM shard_processes WHERE owner = $1;

-- name: PurgeProcesses :exec
DELETE FROM shard_processes WHERE expires_at < $1;

-- name: ClaimShardLease :one
-- The lowest free shard (no owner, or a lease that ran out), skipping rows another process
-- is claiming at this moment.
UPDATE shard_leases SET owner = sqlc.arg(owner), epoch = epoch + 1, expires_at = sqlc.arg(expires_at), updated_at = sqlc.arg(now)
WHERE shard_leases.shard_count = sqlc.arg(shard_count) AND shard_leases.shard_id = (
    SELECT l.shard_id FROM shard_leases l
    WHERE l.shard_count = sqlc.arg(shard_count) AND (l.owner IS NULL OR l.expires_at <= sqlc.arg(now))
    ORDER BY l.shard_id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING shard_id, epoch, session_id, seq, resume_url;

-- name: RenewShardLease :execrows
UPDATE shard_leases SET expires_at = sqlc.arg(expires_at), session_id = sqlc.arg(session_id), seq = sqlc.arg(seq),
    resume_url = sqlc.arg(resume_url), updated_at = sqlc.arg(now)
WHERE shard_count = sqlc.arg(shard_count) AND shard_id = sqlc.arg(shard_id) AND owner = sqlc.arg(owner) AND epoch = sqlc.arg(epoch);

-- name: ReleaseShardLease :execrows
UPDATE shard_leases SET owner = NULL, expires_at = 0, session_id = sqlc.arg(session_id), seq = sqlc.arg(seq),
    resume_url = sqlc.arg(resume_url), updated_at = sqlc.arg(now)
WHERE shard_count = sqlc.arg(shard_count) AND shard_id = sqlc.arg(shard_id) AND owner = sqlc.arg(owner) AND epoch = sqlc.arg(epoch);

-- name: ShardLeases :many
SELECT shard_count, shard_id, owner, epoch, expires_at, session_id, seq, resume_url, updated_at
FROM shard_leases WHERE shard_count = $1 ORDER BY shard_id;

-- name: ShardLeaseHeld :one
-- Whether owner still holds the shard's lease at epoch, unexpired: the fence of work done
-- for the shard's guilds (an expiry's completion). FOR SHARE makes another process's claim
-- of the lease (an UPDATE) wait until the fenced transaction ends, so a completion either
-- commits before the next owner takes the shard or is refused.
SELECT CAST(COUNT(*) AS BIGINT) AS held FROM (
    SELECT l.shard_id FROM shard_leases l
    WHERE l.shard_count = sqlc.arg(shard_count) AND l.shard_id = sqlc.arg(shard_id) AND l.owner = sqlc.arg(owner)
      AND l.epoch = sqlc.arg(epoch) AND l.expires_at > sqlc.arg(now)
    FOR SHARE) held_lease;
