-- name: InsertWebSession :exec
INSERT INTO web_sessions (id_hash, user_id, username, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, $4, $4, $5);

-- name: GetWebSession :one
SELECT * FROM web_sessions WHERE id_hash = $1;

-- name: TouchWebSession :exec
-- Moves the idle clock. The caller writes at most once a minute per session, so a page
-- view is not a write.
UPDATE web_sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1;

-- name: DeleteWebSession :exec
DELETE FROM web_sessions WHERE id_hash = $1;

-- name: PurgeWebSessions :execrows
DELETE FROM web_sessions WHERE expires_at <= $1;
