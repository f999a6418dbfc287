-- name: ClaimEvent :execrows
-- One row per (guild, event): a second claim of the same event inserts nothing.
INSERT INTO processed_events (guild_id, event_id, command, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (guild_id, event_id) DO NOTHING;

-- name: EventHandled :one
-- Whether an event already made a case or was recorded as handled.
SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM processed_events p WHERE p.guild_id = $1 AND p.event_id = $2)
    OR EXISTS (SELECT 1 FROM cases c WHERE c.guild_id = $1 AND c.source_event_id = $2) THEN 1 ELSE 0 END AS BIGINT) AS handled;

-- name: CaseBySourceEvent :one
SELECT id, number FROM cases WHERE guild_id = $1 AND source_event_id = $2;

-- name: PurgeEvents :execrows
DELETE FROM processed_events WHERE created_at < $1;
