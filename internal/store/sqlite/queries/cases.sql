-- name: GetCaseByID :one
SELECT * FROM cases WHERE id = ?1;

-- name: GetCaseByNumber :one
SELECT * FROM cases WHERE guild_id = ?1 AND number = ?2;

-- name: LockCase :one
-- A plain read: SQLite has no row locks and needs none, since its write transactions begin
-- IMMEDIATE and hold the whole database (PostgreSQL takes the row lock here).
SELECT * FROM cases WHERE guild_id = ?1 AND number = ?2;

-- name: RecentCases :many
SELECT * FROM cases WHERE guild_id = ?1 AND created_at >= ?2 ORDER BY id DESC LIMIT ?3;

-- name: ActiveCasesOfUser :many
SELECT * FROM cases WHERE guild_id = ?1 AND user_id = ?2 AND status = 'active' ORDER BY id DESC;

-- name: LatestCaseOfUser :one
SELECT * FROM cases WHERE guild_id = ?1 AND user_id = ?2 ORDER BY id DESC LIMIT 1;

-- name: LatestRestrictionCase :one
-- The restriction state: the newest non-voided case among {X, unX} decides.
SELECT * FROM cases
WHERE guild_id = ?1 AND user_id = ?2 AND type IN (sqlc.arg(on_type), sqlc.arg(off_type)) AND status <> 'voided'
ORDER BY id DESC LIMIT 1;

-- name: CountCasesInGuild :one
SELECT COUNT(*) FROM cases WHERE guild_id = ?1;

-- name: CountCasesOfUser :one
SELECT COUNT(*) FROM cases WHERE guild_id = ?1 AND user_id = ?2;

-- name: CaseStatistics :many
SELECT type, status, COUNT(*) AS n FROM cases WHERE guild_id = ?1 GROUP BY type, status ORDER BY type, status;

-- name: DueCases :many
SELECT * FROM cases
WHERE processed = FALSE AND status = 'active' AND expires_at IS NOT NULL AND expires_at <= ?1
ORDER BY expires_at, id LIMIT ?2;

-- name: DueCasesOfType :many
SELECT * FROM cases
WHERE processed = FALSE AND status = 'active' AND expires_at IS NOT NULL AND expires_at <= ?1 AND type = ?2
ORDER BY expires_at, id LIMIT ?3;

-- name: SetCaseReason :exec
UPDATE cases SET reason = ?2, updated_at = ?3 WHERE id = ?1;

-- name: SetCaseStatus :exec
UPDATE cases SET status = ?2, updated_at = ?3 WHERE id = ?1;

-- name: SetCaseExpiry :exec
UPDATE cases SET expires_at = ?2, updated_at = ?3 WHERE id = ?1;

-- name: SetCaseModlog :exec
UPDATE cases SET modlog_channel_id = sqlc.arg(modlog_channel_id), modlog_message_id = sqlc.arg(modlog_message_id),
    updated_at = sqlc.arg(updated_at)
WHERE id = sqlc.arg(id);

-- name: SetCaseModlogIfUnchanged :execrows
-- SetCaseModlog for a case whose link is still the one the caller read (NULL for none): 0
-- rows, and nothing written, when another writer changed it since. The mod log's worker links
-- the message it posted with it in one statement instead of locking the case first.
UPDATE cases SET modlog_channel_id = sqlc.arg(modlog_channel_id), modlog_message_id = sqlc.arg(modlog_message_id),
    updated_at = sqlc.arg(updated_at)
WHERE id = sqlc.arg(id) AND modlog_channel_id IS sqlc.narg(old_channel_id)
    AND modlog_message_id IS sqlc.narg(old_message_id);

-- name: ProcessCase :one
-- Marks a case processed in one statement that also stands for the row lock; no row when it
-- already was.
UPDATE cases SET processed = TRUE, updated_at = sqlc.arg(updated_at)
WHERE id = sqlc.arg(id) AND processed = FALSE
RETURNING *;

-- name: CaseEvents :many
SELECT * FROM case_events WHERE case_id = ?1 ORDER BY id;

-- name: GuildCasesAfter :many
-- Export walks a guild's cases in id order, one page at a time.
SELECT * FROM cases WHERE guild_id = ?1 AND number > ?2 ORDER BY number LIMIT ?3;

-- name: LockCaseByID :one
-- As LockCase.
SELECT * FROM cases WHERE id = ?1;
