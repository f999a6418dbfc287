-- name: GetEscalationConfig :one
SELECT * FROM escalation_config WHERE guild_id = $1;

-- name: PutEscalationConfig :one
INSERT INTO escalation_config (guild_id, config, version, updated_by, updated_at) VALUES ($1, $2, 1, $3, $4)
ON CONFLICT (guild_id) DO UPDATE SET config = excluded.config, version = escalation_config.version + 1,
    updated_by = excluded.updated_by, updated_at = excluded.updated_at
RETURNING version;

-- name: InsertCasePoints :exec
INSERT INTO case_points (case_id, guild_id, user_id, points, counts_until, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6);

-- name: GetCasePoints :one
SELECT * FROM case_points WHERE case_id = $1;

-- name: SetCasePoints :execrows
UPDATE case_points SET points = $2, counts_until = $3, updated_at = $4 WHERE case_id = $1;

-- name: LockMemberPoints :one
-- Takes the member's escalation lock (held until the transaction ends) and then reads the
-- highest reset level of their open firings (0: none) and their points from the ledger,
-- bounded: the sum of at most L of their counting points rows, L = GREATEST(lim, that
-- level); exact is 1 when the sum is below L (then it is the member's points), 0 when it is
-- a lower bound at or above L. All in the function escalation_lock_member_points
-- (migrations 00025 and 00035), which says why.
SELECT CAST(l.points AS BIGINT) AS points, CAST(l.open_reset_below AS BIGINT) AS open_reset_below,
    CAST(CASE WHEN l.exact THEN 1 ELSE 0 END AS BIGINT) AS exact
FROM escalation_lock_member_points(CAST(sqlc.arg(guild_id) AS BIGINT), CAST(sqlc.arg(user_id) AS BIGINT), CAST(sqlc.arg(now) AS BIGINT), FALSE,
    CAST(sqlc.arg(lim) AS BIGINT)) l;

-- name: LockMemberPointsShared :one
-- LockMemberPoints with the lock in share mode: for a change that only adds points to a
-- member already at or above every threshold (escalation.Service.evaluateMember says why).
SELECT CAST(l.points AS BIGINT) AS points, CAST(l.open_reset_below AS BIGINT) AS open_reset_below,
    CAST(CASE WHEN l.exact THEN 1 ELSE 0 END AS BIGINT) AS exact
FROM escalation_lock_member_points(CAST(sqlc.arg(guild_id) AS BIGINT), CAST(sqlc.arg(user_id) AS BIGINT), CAST(sqlc.arg(now) AS BIGINT), TRUE,
    CAST(sqlc.arg(lim) AS BIGINT)) l;

-- name: EscalationConfigAndCase :one
-- What the evaluation of a transaction's first changed case in a guild reads, in one
-- statement: the guild's escalation settings ('' when none: then nothing else is read),
-- and as CaseForEscalation does, the case, its points row and its member's points.
SELECT CAST(COALESCE(e.config, '') AS TEXT) AS config, c.id, c.guild_id, c.user_id, c.number, c.type, c.status, c.reason, c.metadata, c.created_at,
    CAST(COALESCE(p.points, -1) AS BIGINT) AS points, CAST(COALESCE(p.counts_until, 0) AS BIGINT) AS counts_until,
    CAST(CASE WHEN e.guild_id IS NULL THEN 0 ELSE (SELECT COALESCE(SUM(x.points), 0) FROM (SELECT q.points FROM case_points q
        WHERE q.guild_id = c.guild_id AND q.user_id = c.user_id AND q.counting AND q.points > 0 AND q.counts_until > sqlc.arg(now)
        ORDER BY q.counts_until LIMIT CAST(sqlc.arg(lim) AS BIGINT)) x) END AS BIGINT) AS member_points,
    CAST(CASE WHEN e.guild_id IS NULL THEN 0 ELSE COALESCE((SELECT MAX(f.reset_below) FROM escalation_firings f
        WHERE f.guild_id = c.guild_id AND f.user_id = c.user_id AND f.rearmed_at IS NULL), 0) END AS BIGINT) AS open_reset_below
FROM cases c LEFT JOIN case_points p ON p.case_id = c.id LEFT JOIN escalation_config e ON e.guild_id = c.guild_id
WHERE c.id = sqlc.arg(id);

-- name: EscalationCaseAddingPoints :one
-- EscalationConfigAndCase, and when the stored settings (by their md5) and case are those the
-- caller computed the case's points from, the case's points row with the member's lock
-- (AddCasePoints) in the same statement: added is then 1, shared says the lock's mode, and
-- member_points, member_exact and open_reset_below are what AddCasePoints returns with lim
-- top (the member's points without this row, read under the lock). When it did not add the
-- row, member_points is bounded by GREATEST(top, open_reset_below) and member_exact says
-- whether it is exact. escalation_case_adding_points (migrations 00029, 00034 and 00035) says
-- why. config_same is 1 when the stored settings' md5 is config_md5 and the case got its
-- points row: config is then '' (the caller has the text; migration 00034).
SELECT CAST(r.r_config AS TEXT) AS config, CAST(CASE WHEN r.r_config_same THEN 1 ELSE 0 END AS BIGINT) AS config_same, CAST(r.r_id AS BIGINT) AS id, CAST(r.r_guild_id AS BIGINT) AS guild_id,
    CAST(r.r_user_id AS BIGINT) AS user_id, CAST(r.r_number AS BIGINT) AS number, CAST(r.r_type AS TEXT) AS type,
    CAST(r.r_status AS TEXT) AS status, CAST(r.r_reason AS TEXT) AS reason, CAST(r.r_metadata AS JSONB) AS metadata,
    CAST(r.r_created_at AS BIGINT) AS created_at, CAST(r.r_points AS BIGINT) AS points, CAST(r.r_counts_until AS BIGINT) AS counts_until,
    CAST(r.r_member_points AS BIGINT) AS member_points, CAST(CASE WHEN r.r_member_fresh THEN 1 ELSE 0 END AS BIGINT) AS member_exact,
    CAST(r.r_open_reset_below AS BIGINT) AS open_reset_below, CAST(CASE WHEN r.r_added THEN 1 ELSE 0 END AS BIGINT) AS added,
    CAST(CASE WHEN r.r_shared THEN 1 ELSE 0 END AS BIGINT) AS shared
FROM escalation_case_adding_points(CAST(sqlc.arg(id) AS BIGINT), CAST(sqlc.arg(now) AS BIGINT), CAST(sqlc.arg(config_md5) AS TEXT),
    CAST(sqlc.arg(type) AS TEXT), CAST(sqlc.arg(reason) AS TEXT), CAST(sqlc.arg(metadata) AS JSONB), CAST(sqlc.arg(created_at) AS BIGINT),
    CAST(sqlc.arg(points) AS BIGINT), CAST(sqlc.arg(counts_until) AS BIGINT), CAST(sqlc.arg(top) AS BIGINT)) r;

-- name: CaseForEscalation :one
-- What the evaluation of a changed case reads in one statement: the case, its points row
-- (points -1 when it has none), its member's points from the ledger bounded by lim (the sum
-- of at most lim counting points rows: exact when below lim, a lower bound otherwise; see
-- LockMemberPoints) and the highest reset level of the member's open firings. The member's
-- points are read without a lock: they only pick the mode of the member's lock
-- (escalation.Service.evaluateMember).
SELECT c.id, c.guild_id, c.user_id, c.number, c.type, c.status, c.reason, c.metadata, c.created_at,
    CAST(COALESCE(p.points, -1) AS BIGINT) AS points, CAST(COALESCE(p.counts_until, 0) AS BIGINT) AS counts_until,
    CAST((SELECT COALESCE(SUM(x.points), 0) FROM (SELECT q.points FROM case_points q
        WHERE q.guild_id = c.guild_id AND q.user_id = c.user_id AND q.counting AND q.points > 0 AND q.counts_until > sqlc.arg(now)
        ORDER BY q.counts_until LIMIT CAST(sqlc.arg(lim) AS BIGINT)) x) AS BIGINT) AS member_points,
    CAST(COALESCE((SELECT MAX(f.reset_below) FROM escalation_firings f
        WHERE f.guild_id = c.guild_id AND f.user_id = c.user_id AND f.rearmed_at IS NULL), 0) AS BIGINT) AS open_reset_below
FROM cases c LEFT JOIN case_points p ON p.case_id = c.id
WHERE c.id = sqlc.arg(id);

-- name: AddCasePoints :one
-- Takes the member's escalation lock, reads what LockMemberPoints reads and then gives the
-- case its points row (InsertCasePoints): the member's points are those without this row.
-- One round trip where the evaluation of a warning took two (escalation_add_case_points,
-- migrations 00028 and 00035).
SELECT CAST(l.points AS BIGINT) AS member_points, CAST(l.open_reset_below AS BIGINT) AS open_reset_below,
    CAST(CASE WHEN l.exact THEN 1 ELSE 0 END AS BIGINT) AS exact
FROM escalation_add_case_points(CAST(sqlc.arg(case_id) AS BIGINT), CAST(sqlc.arg(guild_id) AS BIGINT), CAST(sqlc.arg(user_id) AS BIGINT),
    CAST(sqlc.arg(points) AS BIGINT), CAST(sqlc.arg(counts_until) AS BIGINT), CAST(sqlc.arg(created_at) AS BIGINT), CAST(sqlc.arg(now) AS BIGINT), FALSE,
    CAST(sqlc.arg(lim) AS BIGINT)) l;

-- name: AddCasePointsShared :one
-- AddCasePoints with the member's lock in share mode (escalation.Service.evaluateMember
-- says when).
SELECT CAST(l.points AS BIGINT) AS member_points, CAST(l.open_reset_below AS BIGINT) AS open_reset_below,
    CAST(CASE WHEN l.exact THEN 1 ELSE 0 END AS BIGINT) AS exact
FROM escalation_add_case_points(CAST(sqlc.arg(case_id) AS BIGINT), CAST(sqlc.arg(guild_id) AS BIGINT), CAST(sqlc.arg(user_id) AS BIGINT),
    CAST(sqlc.arg(points) AS BIGINT), CAST(sqlc.arg(counts_until) AS BIGINT), CAST(sqlc.arg(created_at) AS BIGINT), CAST(sqlc.arg(now) AS BIGINT), TRUE,
    CAST(sqlc.arg(lim) AS BIGINT)) l;

-- name: MemberPointCases :many
-- The cases that make up a member's points, oldest first.
SELECT p.case_id, p.points, p.counts_until, c.number, c.type, c.reason, c.created_at
FROM case_points p JOIN cases c ON c.id = p.case_id
WHERE p.guild_id = $1 AND p.user_id = $2 AND p.counts_until > $3 AND p.counting AND p.points > 0
ORDER BY c.number;

-- name: InsertFiring :one
-- No row when the threshold already has an open firing for the member (the unique index).
INSERT INTO escalation_firings (guild_id, user_id, policy, at_points, reset_below, action, duration_ms, needs_approval,
    points, contributing, trigger_case_id, state, fired_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
ON CONFLICT (guild_id, user_id, policy, at_points) WHERE rearmed_at IS NULL DO NOTHING
RETURNING *;

-- name: OpenFiringsOfMember :many
SELECT * FROM escalation_firings WHERE guild_id = $1 AND user_id = $2 AND rearmed_at IS NULL ORDER BY at_points, id;

-- name: RearmFirings :many
-- Re-arms the member's open firings whose reset level their points have fallen below.
UPDATE escalation_firings SET rearmed_at = sqlc.arg(now), updated_at = sqlc.arg(now)
WHERE guild_id = sqlc.arg(guild_id) AND user_id = sqlc.arg(user_id) AND rearmed_at IS NULL AND reset_below > sqlc.arg(points)
RETURNING *;

-- name: GetFiring :one
SELECT * FROM escalation_firings WHERE id = $1;

-- name: MoveFiring :one
-- Moves a firing from one state to another; no row when it is no longer in the state
-- expected (another process or moderator got there first).
UPDATE escalation_firings SET state = sqlc.arg(to_state), note = COALESCE(sqlc.narg(note), note),
    decided_by = COALESCE(sqlc.narg(decided_by), decided_by), decided_at = COALESCE(sqlc.narg(decided_at), decided_at),
    escalation_case_id = COALESCE(sqlc.narg(escalation_case_id), escalation_case_id), updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND state = sqlc.arg(from_state)
RETURNING *;

-- name: ReclaimFiring :one
-- Takes over a firing left running by a process that stopped: a compare-and-set on
-- updated_at, so of several processes taking it over at once one gets the row.
UPDATE escalation_firings SET updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND state = 'running' AND updated_at = sqlc.arg(updated_at)
RETURNING *;

-- name: SetFiringApprovalMessage :exec
UPDATE escalation_firings SET approval_message_channel_id = $2, approval_message_id = $3, updated_at = $4 WHERE id = $1;

-- name: FiringsOfMember :many
SELECT * FROM escalation_firings WHERE guild_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT $3;

-- name: FiringsOfCase :many
-- The firings a case triggered or carried out.
SELECT * FROM escalation_firings WHERE trigger_case_id = $1 OR escalation_case_id = $1 ORDER BY id;

-- name: FiringsInState :many
SELECT * FROM escalation_firings WHERE state = $1 AND fired_at <= $2 ORDER BY fired_at, id LIMIT $3;

-- name: NextPointsExpiry :one
-- The next moment a member with an open firing has points stop counting (0: none): when
-- their thresholds may re-arm. Read from the open firings (few, through their partial
-- unique index), each member's counting points through case_points_counting: what it reads
-- grows with the members who have an open firing, not with the cases.
SELECT CAST(COALESCE(MIN(p.counts_until), 0) AS BIGINT) AS at
FROM (SELECT DISTINCT f.guild_id, f.user_id FROM escalation_firings f WHERE f.rearmed_at IS NULL) m
JOIN case_points p ON p.guild_id = m.guild_id AND p.user_id = m.user_id
WHERE p.counts_until > $1 AND p.counting AND p.points > 0;

-- name: MembersWithExpiredPoints :many
-- The members with an open firing some of whose counting points stopped counting in
-- (after, upto], read as NextPointsExpiry is.
SELECT DISTINCT m.guild_id, m.user_id
FROM (SELECT DISTINCT f.guild_id, f.user_id FROM escalation_firings f WHERE f.rearmed_at IS NULL) m
JOIN case_points p ON p.guild_id = m.guild_id AND p.user_id = m.user_id
WHERE p.counts_until > sqlc.arg(after) AND p.counts_until <= sqlc.arg(upto) AND p.counting AND p.points > 0
ORDER BY m.guild_id, m.user_id;

-- name: NextApprovalFiredAt :one
-- The oldest firing still waiting for approval (0: none): it expires a day after it fired.
SELECT CAST(COALESCE(MIN(fired_at), 0) AS BIGINT) AS fired_at FROM escalation_firings WHERE state = 'awaiting_approval';
