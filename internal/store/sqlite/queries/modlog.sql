-- The mod-log outbox (internal/modlog owns it).

-- name: ClaimModlog :many
-- Run in an immediate transaction, which already excludes every other writer (PostgreSQL
-- skips locked rows instead).
UPDATE modlog_outbox SET lease_owner = sqlc.arg(owner), lease_until = sqlc.arg(lease_until),
    attempts = attempts + 1, updated_at = sqlc.arg(now)
WHERE case_id IN (
    SELECT o.case_id FROM modlog_outbox o
    WHERE o.run_at <= sqlc.arg(now) AND (o.lease_until IS NULL OR o.lease_until < sqlc.arg(now))
    ORDER BY o.run_at, o.case_id LIMIT sqlc.arg(max_rows))
RETURNING *;

-- name: FinishModlog :execrows
-- Delivered: the row goes, unless a change arrived meanwhile (another generation), which
-- leaves it for the next delivery; only the claim still holding the lease finishes it.
DELETE FROM modlog_outbox
WHERE case_id = sqlc.arg(case_id) AND generation = sqlc.arg(generation) AND lease_owner = sqlc.arg(owner)
  AND attempts = sqlc.arg(attempts);

-- name: RetryModlog :execrows
-- Hands a claimed row back to run again at run_at: after a failure (attempts kept, for the
-- backoff), or after a delivery that a newer change overtook (attempts reset to 0).
UPDATE modlog_outbox SET run_at = sqlc.arg(run_at), attempts = sqlc.arg(new_attempts), last_error = sqlc.narg(last_error),
    lease_owner = NULL, lease_until = NULL, updated_at = sqlc.arg(now)
WHERE case_id = sqlc.arg(case_id) AND lease_owner = sqlc.arg(owner) AND attempts = sqlc.arg(attempts);

-- name: NextModlogRunAt :one
-- When the next claimable row falls due; leased rows are someone's delivery in progress, and
-- come back when their lease ends.
SELECT CAST(CASE WHEN o.lease_until IS NOT NULL AND o.lease_until > o.run_at THEN o.lease_until ELSE o.run_at END AS BIGINT) AS due
FROM modlog_outbox o
ORDER BY due, o.case_id LIMIT 1;

-- name: ModlogOutbox :many
SELECT * FROM modlog_outbox ORDER BY case_id;

-- name: ModlogCounts :one
-- For the metrics: the queued deliveries, and those of them that failed at least once (waiting
-- to be tried again, or on a later attempt now). A row under a live lease is on an attempt
-- that has not failed (yet), so that one is not counted.
SELECT COUNT(*) AS queued_count,
       CAST(COALESCE(SUM(CASE WHEN attempts > (CASE WHEN lease_until IS NOT NULL AND lease_until >= CAST(sqlc.arg(now) AS BIGINT) THEN 1 ELSE 0 END)
           THEN 1 ELSE 0 END), 0) AS BIGINT) AS failing_count
FROM modlog_outbox;
