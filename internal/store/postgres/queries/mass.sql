-- name: InsertMassAction :one
INSERT INTO mass_actions (guild_id, parent_case_id, kind, state, moderator_id, reason, delete_seconds, duration_ms, silent, created_at, updated_at)
VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9, $9)
RETURNING *;

-- name: InsertMassTarget :exec
INSERT INTO mass_targets (mass_id, seq, user_id, member, chunk, state)
VALUES ($1, $2, $3, $4, $5, 'queued');

-- name: GetMassAction :one
SELECT * FROM mass_actions WHERE id = $1;

-- name: GetMassActionByParent :one
SELECT * FROM mass_actions WHERE parent_case_id = $1;

-- name: RunningMassActions :many
SELECT * FROM mass_actions WHERE state = 'running' ORDER BY id;

-- name: SetMassActionState :exec
UPDATE mass_actions SET state = $2, updated_at = $3 WHERE id = $1;

-- name: MassTargets :many
SELECT * FROM mass_targets WHERE mass_id = $1 ORDER BY seq;

-- name: SetMassTarget :exec
UPDATE mass_targets SET state = $3, case_id = $4, detail = $5 WHERE mass_id = $1 AND user_id = $2;

-- name: CancelQueuedMassTargets :execrows
UPDATE mass_targets SET state = 'cancelled' WHERE mass_id = $1 AND state = 'queued';

-- name: AddBanOnJoin :exec
INSERT INTO ban_on_join (guild_id, user_id, moderator_id, reason, parent_case_id, added_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (guild_id, user_id) DO NOTHING;

-- name: GetBanOnJoin :one
SELECT * FROM ban_on_join WHERE guild_id = $1 AND user_id = $2;

-- name: RemoveBanOnJoin :execrows
DELETE FROM ban_on_join WHERE guild_id = $1 AND user_id = $2;

-- name: ListBanOnJoin :many
SELECT * FROM ban_on_join WHERE guild_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3;

-- name: CountBanOnJoin :one
SELECT count(*) FROM ban_on_join WHERE guild_id = $1;

-- name: GetAccountAgeGate :one
SELECT * FROM account_age_gates WHERE guild_id = $1;

-- name: SetAccountAgeGate :exec
INSERT INTO account_age_gates (guild_id, min_age_ms, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (guild_id) DO UPDATE SET min_age_ms = excluded.min_age_ms, updated_at = excluded.updated_at;

-- name: DeleteAccountAgeGate :execrows
DELETE FROM account_age_gates WHERE guild_id = $1;
