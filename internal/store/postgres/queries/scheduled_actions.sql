-- name: InsertScheduledAction :one
INSERT INTO scheduled_actions (kind, guild_id, user_id, case_id, run_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
RETURNING *;

-- name: ClaimDueActions :many
-- Rows another claimer has locked are skipped, not waited for, so several
-- processes claim disjoint batches at once. attempts counts the claim (see the migration).
-- "= ANY(ARRAY(…))" rather than "IN (…)": the cached generic plan cannot see the LIMIT, and
-- for IN it hash-joins the whole table (20 ms at 100,000 rows) where this looks the claimed
-- ids up by primary key (0.3 ms).
UPDATE scheduled_actions SET lease_owner = sqlc.arg(owner), lease_until = sqlc.arg(lease_until),
    attempts = attempts + 1, updated_at = sqlc.arg(now)
WHERE id = ANY(ARRAY(
    SELECT s.id FROM scheduled_actions s
    WHERE s.done_at IS NULL AND s.cancelled_at IS NULL AND s.run_at <= sqlc.arg(now)
      AND (s.lease_until IS NULL OR s.lease_until < sqlc.arg(now))
    ORDER BY s.run_at, s.id LIMIT sqlc.arg(max_rows)
    FOR UPDATE SKIP LOCKED))
RETURNING *;

-- name: ClaimDueActionsOfShards :many
-- ClaimDueActions limited to the guilds of the shards this process holds (shard_set lists
-- them as ",0,3,"; the guild's shard is (guild_id >> 22) % shard_count): with shard leases,
-- an expiry runs in the process that runs its guild's events.
-- Rows another claimer has locked are skipped, not waited for, so several
-- processes claim disjoint batches at once. attempts counts the claim (see the migration).
-- "= ANY(ARRAY(…))" rather than "IN (…)": the cached generic plan cannot see the LIMIT, and
-- for IN it hash-joins the whole table (20 ms at 100,000 rows) where this looks the claimed
-- ids up by primary key (0.3 ms).
UPDATE scheduled_actions SET lease_owner = sqlc.arg(owner), lease_until = sqlc.arg(lease_until),
    attempts = attempts + 1, updated_at = sqlc.arg(now)
WHERE id = ANY(ARRAY(
    SELECT s.id FROM scheduled_actions s
    WHERE s.done_at IS NULL AND s.cancelled_at IS NULL AND s.run_at <= sqlc.arg(now)
      AND (s.lease_until IS NULL OR s.lease_until < sqlc.arg(now))
      AND position(',' || CAST((s.guild_id >> 22) % CAST(sqlc.arg(shard_count) AS BIGINT) AS TEXT) || ',' IN CAST(sqlc.arg(shard_set) AS TEXT)) > 0
    ORDER BY s.run_at, s.id LIMIT sqlc.arg(max_rows)
    FOR UPDATE SKIP LOCKED))
RETURNING *;

-- name: CompleteScheduledAction :execrows
-- Only the claim still holding its lease completes: same owner, same attempt, not expired.
UPDATE scheduled_actions SET done_at = CAST(sqlc.arg(now) AS BIGINT), outcome = sqlc.arg(outcome), note = sqlc.arg(note),
    lease_owner = NULL, lease_until = NULL, updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND lease_owner = sqlc.arg(owner) AND attempts = sqlc.arg(attempts)
  AND lease_until >= sqlc.arg(now) AND done_at IS NULL AND cancelled_at IS NULL;

-- name: FailScheduledAction :execrows
UPDATE scheduled_actions SET run_at = sqlc.arg(run_at), last_error = sqlc.arg(last_error),
    lease_owner = NULL, lease_until = NULL, updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND lease_owner = sqlc.arg(owner) AND attempts = sqlc.arg(attempts)
  AND lease_until >= sqlc.arg(now) AND done_at IS NULL AND cancelled_at IS NULL;

-- name: ReleaseScheduledAction :execrows
-- A claim handed back unrun (its poller is stopping): the lease is cleared, and the claim's
-- attempt taken back, so that any poller may run it at once and it is not counted.
UPDATE scheduled_actions SET lease_owner = NULL, lease_until = NULL, attempts = attempts - 1,
    updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND lease_owner = sqlc.arg(owner) AND attempts = sqlc.arg(attempts)
  AND lease_until >= sqlc.arg(now) AND done_at IS NULL AND cancelled_at IS NULL;

-- name: GiveUpScheduledAction :execrows
UPDATE scheduled_actions SET done_at = CAST(sqlc.arg(now) AS BIGINT), outcome = 'gave_up', last_error = sqlc.arg(last_error),
    lease_owner = NULL, lease_until = NULL, updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND lease_owner = sqlc.arg(owner) AND attempts = sqlc.arg(attempts)
  AND lease_until >= sqlc.arg(now) AND done_at IS NULL AND cancelled_at IS NULL;

-- name: OpenActionsOfTarget :many
SELECT * FROM scheduled_actions
WHERE guild_id = $1 AND user_id = $2 AND done_at IS NULL AND cancelled_at IS NULL
ORDER BY id;

-- name: OpenActionOfCase :one
SELECT * FROM scheduled_actions WHERE case_id = $1 AND done_at IS NULL AND cancelled_at IS NULL;

-- name: ActionsOfCase :many
SELECT * FROM scheduled_actions WHERE case_id = $1 ORDER BY id;

-- name: CancelScheduledAction :execrows
-- A cancel wins over a lease: the runner holding it finds its completion refused.
UPDATE scheduled_actions SET cancelled_at = CAST(sqlc.arg(now) AS BIGINT), outcome = sqlc.arg(outcome), note = sqlc.arg(note),
    lease_owner = NULL, lease_until = NULL, updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND done_at IS NULL AND cancelled_at IS NULL;

-- name: MoveScheduledAction :execrows
UPDATE scheduled_actions SET run_at = sqlc.arg(run_at), kind = sqlc.arg(kind), attempts = 0, last_error = NULL,
    lease_owner = NULL, lease_until = NULL, updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND done_at IS NULL AND cancelled_at IS NULL;

-- name: NextRunAt :one
-- When the next claimable row falls due; leased rows are someone's work in progress.
SELECT s.run_at FROM scheduled_actions s
WHERE s.done_at IS NULL AND s.cancelled_at IS NULL AND (s.lease_until IS NULL OR s.lease_until < CAST(sqlc.arg(now) AS BIGINT))
ORDER BY s.run_at, s.id LIMIT 1;

-- name: PendingActions :many
SELECT * FROM scheduled_actions
WHERE done_at IS NULL AND cancelled_at IS NULL AND (CAST(sqlc.arg(guild_id) AS BIGINT) = 0 OR guild_id = sqlc.arg(guild_id))
ORDER BY run_at, id LIMIT sqlc.arg(max_rows);

-- name: CountPendingActions :one
SELECT COUNT(*) FROM scheduled_actions
WHERE done_at IS NULL AND cancelled_at IS NULL AND (CAST(sqlc.arg(guild_id) AS BIGINT) = 0 OR guild_id = sqlc.arg(guild_id));

-- name: ScheduleCounts :one
-- For the metrics: open actions, and those of them already due (running or waiting).
SELECT COUNT(*) AS open_count,
       CAST(COALESCE(SUM(CASE WHEN run_at <= CAST(sqlc.arg(now) AS BIGINT) THEN 1 ELSE 0 END), 0) AS BIGINT) AS due_count
FROM scheduled_actions
WHERE done_at IS NULL AND cancelled_at IS NULL;

-- name: OverdueUnclaimedActions :one
-- Open actions due since before "before" that no poller holds now: an outage, or (with
-- explicit shard lists) a shard no process runs, whose guilds' actions no process claims.
SELECT COUNT(*) FROM scheduled_actions
WHERE done_at IS NULL AND cancelled_at IS NULL AND run_at <= sqlc.arg(before)
  AND (lease_until IS NULL OR lease_until < sqlc.arg(now));

-- name: UnscheduledExpiringCases :many
-- Cases that should have an expiry action and never got one (a crash between the case and
-- its schedule, or cases recorded before this table existed), in id order after `after`: which
-- types expire is the actions' to say (expiry.Rules), so the caller pages and filters.
SELECT c.* FROM cases c
WHERE c.processed = FALSE AND c.status = 'active' AND c.expires_at IS NOT NULL
  AND c.id > sqlc.arg(after)
  AND NOT EXISTS (SELECT 1 FROM scheduled_actions s WHERE s.case_id = c.id)
ORDER BY c.id LIMIT sqlc.arg(max_rows);
