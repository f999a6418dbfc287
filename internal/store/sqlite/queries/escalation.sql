-- name: GetEscalationConfig :one
SELECT * FROM escalation_config WHERE guild_id = ?1;

-- name: PutEscalationConfig :one
INSERT INTO escalation_config (guild_id, config, version, updated_by, updated_at) VALUES (?1, ?2, 1, ?3, ?4)
ON CONFLICT (guild_id) DO UPDATE SET config = excluded.config, version = escalation_config.version + 1,
    updated_by = excluded.updated_by, updated_at = excluded.updated_at
RETURNING version;

-- name: InsertCasePoints :exec
-- counting is the case's status, as the trigger case_points_counting_insert would make it
-- (which then has nothing to correct).
INSERT INTO case_points (case_id, guild_id, user_id, points, counts_until, created_at, updated_at, counting)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, EXISTS (SELECT 1 FROM cases c WHERE c.id = ?1 AND c.status = 'active'));

-- name: GetCasePoints :one
SELECT * FROM case_points WHERE case_id = ?1;

-- name: SetCasePoints :execrows
UPDATE case_points SET points = ?2, counts_until = ?3, updated_at = ?4 WHERE case_id = ?1;

-- name: LockMemberPoints :one
-- A member's points now from the ledger, bounded (migration 00035): the sum of at most lim
-- of their counting points rows (exact 1 when it is below lim: then it is their points; 0
-- when it is a lower bound at or above lim), and the highest reset level of their open
-- firings (0: none). No lock to take first (PostgreSQL takes one on the member): SQLite's
-- write transactions begin IMMEDIATE and hold the whole database, so evaluations are
-- already one after the other.
SELECT CAST((SELECT COALESCE(SUM(x.points), 0) FROM (SELECT q.points FROM case_points q
        WHERE q.guild_id = sqlc.arg(guild_id) AND q.user_id = sqlc.arg(user_id) AND q.counting = 1 AND q.points > 0 AND q.counts_until > sqlc.arg(now)
        ORDER BY q.counts_until LIMIT CAST(sqlc.arg(lim) AS INTEGER) + 0) x) AS INTEGER) AS points,
    CAST(COALESCE((SELECT MAX(f.reset_below) FROM escalation_firings f
        WHERE f.guild_id = sqlc.arg(guild_id) AND f.user_id = sqlc.arg(user_id) AND f.rearmed_at IS NULL), 0) AS INTEGER) AS open_reset_below,
    CAST((SELECT COALESCE(SUM(x.points), 0) FROM (SELECT q.points FROM case_points q
        WHERE q.guild_id = sqlc.arg(guild_id) AND q.user_id = sqlc.arg(user_id) AND q.counting = 1 AND q.points > 0 AND q.counts_until > sqlc.arg(now)
        ORDER BY q.counts_until LIMIT CAST(sqlc.arg(lim) AS INTEGER) + 0) x) < sqlc.arg(lim) AS INTEGER) AS exact;

-- name: LockMemberPointsShared :one
-- LockMemberPoints in share mode on PostgreSQL; the same read here.
SELECT CAST((SELECT COALESCE(SUM(x.points), 0) FROM (SELECT q.points FROM case_points q
        WHERE q.guild_id = sqlc.arg(guild_id) AND q.user_id = sqlc.arg(user_id) AND q.counting = 1 AND q.points > 0 AND q.counts_until > sqlc.arg(now)
        ORDER BY q.counts_until LIMIT CAST(sqlc.arg(lim) AS INTEGER) + 0) x) AS INTEGER) AS points,
    CAST(COALESCE((SELECT MAX(f.reset_below) FROM escalation_firings f
        WHERE f.guild_id = sqlc.arg(guild_id) AND f.user_id = sqlc.arg(user_id) AND f.rearmed_at IS NULL), 0) AS INTEGER) AS open_reset_below,
    CAST((SELECT COALESCE(SUM(x.points), 0) FROM (SELECT q.points FROM case_points q
        WHERE q.guild_id = sqlc.arg(guild_id) AND q.user_id = sqlc.arg(user_id) AND q.counting = 1 AND q.points > 0 AND q.counts_until > sqlc.arg(now)
        ORDER BY q.counts_until LIMIT CAST(sqlc.arg(lim) AS INTEGER) + 0) x) < sqlc.arg(lim) AS INTEGER) AS exact;

-- name: EscalationConfigAndCase :one
-- What the evaluation of a transaction's first changed case in a guild reads, in one
-- statement: the guild's escalation settings ('' when none: then nothing else is read),
-- and as CaseForEscalation does, the case, its points row and its member's points.
SELECT CAST(COALESCE(e.config, '') AS TEXT) AS config, c.id, c.guild_id, c.user_id, c.number, c.type, c.status, c.reason, c.metadata, c.created_at,
    CAST(COALESCE(p.points, -1) AS INTEGER) AS points, CAST(COALESCE(p.counts_until, 0) AS INTEGER) AS counts_until,
    CAST(CASE WHEN e.guild_id IS NULL THEN 0 ELSE (SELECT COALESCE(SUM(x.points), 0) FROM (SELECT q.points FROM case_points q
        WHERE q.guild_id = c.guild_id AND q.user_id = c.user_id AND q.counting = 1 AND q.points > 0 AND q.counts_until > sqlc.arg(now)
        ORDER BY q.counts_until LIMIT CAST(sqlc.arg(lim) AS INTEGER) + 0) x) END AS INTEGER) AS member_points,
    CAST(CASE WHEN e.guild_id IS NULL THEN 0 ELSE COALESCE((SELECT MAX(f.reset_below) FROM escalation_firings f
        WHERE f.guild_id = c.guild_id AND f.user_id = c.user_id AND f.rearmed_at IS NULL), 0) END AS INTEGER) AS open_reset_below
FROM cases c LEFT JOIN case_points p ON p.case_id = c.id LEFT JOIN escalation_config e ON e.guild_id = c.guild_id
WHERE c.id = sqlc.arg(id);

-- name: CaseForEscalation :one
-- What the evaluation of a changed case reads in one statement: the case, its points row
-- (points -1 when it has none), its member's points from the ledger bounded by lim (see
-- LockMemberPoints: exact when below lim, a lower bound otherwise) and the highest reset
-- level of the member's open firings. Here the read is already under the member's lock (the
-- one writer); on PostgreSQL the member's points only pick the mode of the member's lock
-- (escalation.Service.evaluateMember).
SELECT c.id, c.guild_id, c.user_id, c.number, c.type, c.status, c.reason, c.metadata, c.created_at,
    CAST(COALESCE(p.points, -1) AS INTEGER) AS points, CAST(COALESCE(p.counts_until, 0) AS INTEGER) AS counts_until,
    CAST((SELECT COALESCE(SUM(x.points), 0) FROM (SELECT q.points FROM case_points q
        WHERE q.guild_id = c.guild_id AND q.user_id = c.user_id AND q.counting = 1 AND q.points > 0 AND q.counts_until > sqlc.arg(now)
        ORDER BY q.counts_until LIMIT CAST(sqlc.arg(lim) AS INTEGER) + 0) x) AS INTEGER) AS member_points,
    CAST(COALESCE((SELECT MAX(f.reset_below) FROM escalation_firings f
        WHERE f.guild_id = c.guild_id AND f.user_id = c.user_id AND f.rearmed_at IS NULL), 0) AS INTEGER) AS open_reset_below
FROM cases c LEFT JOIN case_points p ON p.case_id = c.id
WHERE c.id = sqlc.arg(id);

-- name: MemberPointCases :many
-- The cases that make up a member's points, oldest first.
SELECT p.case_id, p.points, p.counts_until, c.number, c.type, c.reason, c.created_at
FROM case_points p JOIN cases c ON c.id = p.case_id
WHERE p.guild_id = ?1 AND p.user_id = ?2 AND p.counts_until > ?3 AND p.counting = 1 AND p.points > 0
ORDER BY c.number;

-- name: InsertFiring :one
-- No row when the threshold already has an open firing for the member (the unique index).
INSERT INTO escalation_firings (guild_id, user_id, policy, at_points, reset_below, action, duration_ms, needs_approval,
    points, contributing, trigger_case_id, state, fired_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)
ON CONFLICT (guild_id, user_id, policy, at_points) WHERE rearmed_at IS NULL DO NOTHING
RETURNING *;

-- name: OpenFiringsOfMember :many
SELECT * FROM escalation_firings WHERE guild_id = ?1 AND user_id = ?2 AND rearmed_at IS NULL ORDER BY at_points, id;

-- name: RearmFirings :many
-- Re-arms the member's open firings whose reset level their points have fallen below.
UPDATE escalation_firings SET rearmed_at = sqlc.arg(now), updated_at = sqlc.arg(now)
WHERE guild_id = sqlc.arg(guild_id) AND user_id = sqlc.arg(user_id) AND rearmed_at IS NULL AND reset_below > sqlc.arg(points)
RETURNING *;

-- name: GetFiring :one
SELECT * FROM escalation_firings WHERE id = ?1;

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
UPDATE escalation_firings SET approval_message_channel_id = ?2, approval_message_id = ?3, updated_at = ?4 WHERE id = ?1;

-- name: FiringsOfMember :many
SELECT * FROM escalation_firings WHERE guild_id = ?1 AND user_id = ?2 ORDER BY id DESC LIMIT ?3;

-- name: FiringsOfCase :many
-- The firings a case triggered or carried out.
SELECT * FROM escalation_firings WHERE trigger_case_id = ?1 OR escalation_case_id = ?1 ORDER BY id;

-- name: FiringsInState :many
SELECT * FROM escalation_firings WHERE state = ?1 AND fired_at <= ?2 ORDER BY fired_at, id LIMIT ?3;

-- name: NextPointsExpiry :one
-- The next moment a member with an open firing has points stop counting (0: none): when
-- their thresholds may re-arm. Read from the open firings (few, through their partial
-- unique index), each member's counting points through case_points_counting: what it reads
-- grows with the members who have an open firing, not with the cases.
SELECT CAST(COALESCE(MIN(p.counts_until), 0) AS INTEGER) AS at
FROM (SELECT DISTINCT f.guild_id, f.user_id FROM escalation_firings f WHERE f.rearmed_at IS NULL) m
JOIN case_points p ON p.guild_id = m.guild_id AND p.user_id = m.user_id
WHERE p.counts_until > ?1 AND p.counting = 1 AND p.points > 0;

-- name: MembersWithExpiredPoints :many
-- The members with an open firing some of whose counting points stopped counting in
-- (after, upto], read as NextPointsExpiry is.
SELECT DISTINCT m.guild_id, m.user_id
FROM (SELECT DISTINCT f.guild_id, f.user_id FROM escalation_firings f WHERE f.rearmed_at IS NULL) m
JOIN case_points p ON p.guild_id = m.guild_id AND p.user_id = m.user_id
WHERE p.counts_until > sqlc.arg(after) AND p.counts_until <= sqlc.arg(upto) AND p.counting = 1 AND p.points > 0
ORDER BY m.guild_id, m.user_id;

-- name: NextApprovalFiredAt :one
-- The oldest firing still waiting for approval (0: none): it expires a day after it fired.
SELECT CAST(COALESCE(MIN(fired_at), 0) AS BIGINT) AS fired_at FROM escalation_firings WHERE state = 'awaiting_approval';
