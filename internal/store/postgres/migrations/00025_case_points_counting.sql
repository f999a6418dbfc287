-- Escalation's sum without the cases table: case_points.counting says whether the case is
-- active, kept by the database itself (a trigger when a points row is written, another when
-- a case's status changes), so it is a copy that cannot drift from cases.status. The sum
-- then reads one partial, covering index (guild, user, counts_until, points) over the rows
-- that count, instead of a points row and a case (primary key and heap) per counting case:
-- the sum is evaluated under the member's lock, so its cost was paid by every concurrent
-- warning on that member (docs/benchmarks.md, issue 15). Kept in lockstep with
-- ../sqlite/00025_case_points_counting.sql.

-- +goose Up
ALTER TABLE case_points ADD COLUMN counting BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE case_points p SET counting = (c.status = 'active') FROM cases c WHERE c.id = p.case_id;

-- +goose StatementBegin
CREATE FUNCTION case_points_counting_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.counting := EXISTS (SELECT 1 FROM cases c WHERE c.id = NEW.case_id AND c.status = 'active');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER case_points_counting_insert BEFORE INSERT OR UPDATE OF case_id, counting ON case_points
    FOR EACH ROW EXECUTE FUNCTION case_points_counting_insert();

-- +goose StatementBegin
CREATE FUNCTION cases_status_points() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_points SET counting = (NEW.status = 'active') WHERE case_id = NEW.id;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER cases_status_points AFTER UPDATE OF status ON cases
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION cases_status_points();

CREATE INDEX case_points_counting ON case_points (guild_id, user_id, counts_until) INCLUDE (points)
    WHERE counting AND points > 0;
DROP INDEX case_points_member;

-- The member's lock and their points in one call: escalation evaluates a member's points
-- under a lock on the member (a transaction-scoped advisory lock on a hash of the schema
-- and the member; a collision only makes two members wait for each other), so that two
-- transactions changing one member's points, in one process or several, evaluate one after
-- the other and the second sees the first's committed points. The lock is per member, not
-- the guild's row that case numbering locks: holding that through an evaluation made every
-- case of the guild wait for it. Taking it and reading in one function saves the round trip
-- between them, which the member's other changes would all wait for; the read sees what
-- committed while it waited, because a VOLATILE function takes a new snapshot for each
-- statement (READ COMMITTED). open_reset_below is the highest reset level of the member's
-- open firings (0: none): a re-arm is only worth a statement when the points are below it.
-- With shared, the lock is taken in share mode: for a change that only adds points to a
-- member already at or above every threshold (escalation.Service says why that is safe);
-- every other evaluation takes it exclusively and so waits for those, and they for it.
-- +goose StatementBegin
CREATE FUNCTION escalation_lock_member_points(g BIGINT, u BIGINT, now_ms BIGINT, shared BOOLEAN,
    OUT points BIGINT, OUT open_reset_below BIGINT) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k BIGINT := hashtextextended(current_schema() || ':gavel escalation member ' || g || ':' || u, 0);
BEGIN
    IF shared THEN
        PERFORM pg_advisory_xact_lock_shared(k);
    ELSE
        PERFORM pg_advisory_xact_lock(k);
    END IF;
    SELECT COALESCE(SUM(p.points), 0) INTO points FROM case_points p
    WHERE p.guild_id = g AND p.user_id = u AND p.counts_until > now_ms AND p.counting AND p.points > 0;
    SELECT COALESCE(MAX(f.reset_below), 0) INTO open_reset_below FROM escalation_firings f
    WHERE f.guild_id = g AND f.user_id = u AND f.rearmed_at IS NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION escalation_lock_member_points(BIGINT, BIGINT, BIGINT, BOOLEAN);
CREATE INDEX case_points_member ON case_points (guild_id, user_id, counts_until);
DROP INDEX case_points_counting;
DROP TRIGGER cases_status_points ON cases;
DROP FUNCTION cases_status_points();
DROP TRIGGER case_points_counting_insert ON case_points;
DROP FUNCTION case_points_counting_insert();
ALTER TABLE case_points DROP COLUMN counting;
