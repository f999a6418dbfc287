-- A member's points as rows kept by the database, so that escalation's evaluation of a
-- warning reads a few rows instead of summing every case of the member that still counts
-- (the sum grew with the member's history and was most of what escalation cost a warning:
-- docs/benchmarks.md, issue 15). The case log stays the ledger: member_points is derived from
-- case_points by triggers on every write of a points row (and so on every status change, by
-- way of case_points.counting, migration 00025), and recomputed from case_points whenever
-- points have stopped counting since it was computed. Kept in lockstep with
-- ../sqlite/00028_member_points.sql.
--
-- A member's points are spread over 16 stripes (case_id % 16), each a row: the trigger of a
-- points row locks its stripe's row until the transaction ends, so with one row per member
-- every warning of a member would wait for the previous one's commit, where the member's
-- additions past every threshold otherwise run side by side (escalation's share mode).
-- Concurrent warnings get consecutive case ids, so different stripes.
--
-- A stripe is exact while as_of <= now < next_expiry: points is the sum of its counting points
-- rows (counting, points > 0) with counts_until > as_of, and next_expiry is at most the
-- smallest counts_until among those rows (9223372036854775807: none). Once now reaches
-- next_expiry, some of those points may have stopped counting, and the reader recomputes the
-- member's stripes (escalation_refresh_member_points) with as_of = now. A stripe with
-- next_expiry 0 is to be recomputed before use (the backfill below). Every points row has
-- its stripe's row, so a member without one has no points in that stripe.

-- +goose Up
CREATE TABLE member_points (
    guild_id    BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    stripe      BIGINT NOT NULL,
    points      BIGINT NOT NULL,
    next_expiry BIGINT NOT NULL,
    as_of       BIGINT NOT NULL,
    PRIMARY KEY (guild_id, user_id, stripe)
);

INSERT INTO member_points (guild_id, user_id, stripe, points, next_expiry, as_of)
SELECT DISTINCT guild_id, user_id, case_id % 16, 0, 0, 0 FROM case_points;

-- A points row's contribution is added to its stripe's row (created when missing: then its
-- only points are this row's, with as_of 0) and removed when the row changes or goes. A
-- contribution counts when the row counts and counts_until > as_of: the stripe's own rule.
-- The row's counting is final here (the BEFORE trigger of migration 00025 set it).
-- +goose StatementBegin
CREATE FUNCTION case_points_member() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c BOOLEAN;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.counting AND OLD.points > 0 THEN
        UPDATE member_points SET points = points - OLD.points
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND stripe = OLD.case_id % 16 AND OLD.counts_until > as_of;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        c := NEW.counting AND NEW.points > 0;
        INSERT INTO member_points AS m (guild_id, user_id, stripe, points, next_expiry, as_of)
        VALUES (NEW.guild_id, NEW.user_id, NEW.case_id % 16, CASE WHEN c THEN NEW.points ELSE 0 END,
            CASE WHEN c THEN NEW.counts_until ELSE 9223372036854775807 END, 0)
        ON CONFLICT (guild_id, user_id, stripe) DO UPDATE SET
            points = m.points + CASE WHEN c AND NEW.counts_until > m.as_of THEN NEW.points ELSE 0 END,
            next_expiry = CASE WHEN c AND NEW.counts_until > m.as_of THEN LEAST(m.next_expiry, NEW.counts_until) ELSE m.next_expiry END;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER case_points_member AFTER INSERT OR DELETE OR UPDATE OF case_id, guild_id, user_id, points, counts_until, counting
    ON case_points FOR EACH ROW EXECUTE FUNCTION case_points_member();

-- Recomputes a member's stripes from case_points as of now_ms. The stripes are locked first
-- and read in a statement of their own: a VOLATILE function takes a new snapshot per
-- statement, so the sum sees every points row whose transaction held a stripe before this
-- one, and a points row written after waits for the lock and is then added by its trigger
-- on top of the recomputed stripe.
-- +goose StatementBegin
CREATE FUNCTION escalation_refresh_member_points(g BIGINT, u BIGINT, now_ms BIGINT) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM 1 FROM member_points WHERE guild_id = g AND user_id = u ORDER BY stripe FOR UPDATE;
    WITH s AS (
        SELECT p.case_id % 16 AS stripe, SUM(p.points) AS points, MIN(p.counts_until) AS next_expiry FROM case_points p
        WHERE p.guild_id = g AND p.user_id = u AND p.counts_until > now_ms AND p.counting AND p.points > 0
        GROUP BY 1
    )
    UPDATE member_points m SET points = COALESCE((SELECT s.points FROM s WHERE s.stripe = m.stripe), 0),
        next_expiry = COALESCE((SELECT s.next_expiry FROM s WHERE s.stripe = m.stripe), 9223372036854775807), as_of = now_ms
    WHERE m.guild_id = g AND m.user_id = u;
END;
$$;
-- +goose StatementEnd

-- The member's lock (migration 00025 says why) and their points from member_points; fresh
-- is false when a stripe must be recomputed first (escalation_refresh_member_points), and
-- then points is not to be used.
DROP FUNCTION escalation_lock_member_points(BIGINT, BIGINT, BIGINT, BOOLEAN);
-- +goose StatementBegin
CREATE FUNCTION escalation_lock_member_points(g BIGINT, u BIGINT, now_ms BIGINT, shared BOOLEAN,
    OUT points BIGINT, OUT open_reset_below BIGINT, OUT fresh BOOLEAN) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k BIGINT := hashtextextended(current_schema() || ':gavel escalation member ' || g || ':' || u, 0);
BEGIN
    IF shared THEN
        PERFORM pg_advisory_xact_lock_shared(k);
    ELSE
        PERFORM pg_advisory_xact_lock(k);
    END IF;
    SELECT COALESCE(SUM(m.points), 0), COALESCE(BOOL_AND(m.as_of <= now_ms AND now_ms < m.next_expiry), TRUE)
    INTO points, fresh FROM member_points m WHERE m.guild_id = g AND m.user_id = u;
    SELECT COALESCE(MAX(f.reset_below), 0) INTO open_reset_below FROM escalation_firings f
    WHERE f.guild_id = g AND f.user_id = u AND f.rearmed_at IS NULL;
END;
$$;
-- +goose StatementEnd

-- A warning's evaluation in one round trip: the member's lock and points (recomputed first
-- when stale), then the case's points row, whose trigger adds it to its stripe. The points
-- returned are the member's without this row. Reading before writing also means a
-- recomputation locks the member's stripes before the row's trigger locks its own, in the
-- same order as any other recomputation.
-- +goose StatementBegin
CREATE FUNCTION escalation_add_case_points(cid BIGINT, g BIGINT, u BIGINT, pts BIGINT, until_ms BIGINT, created_ms BIGINT, now_ms BIGINT,
    shared BOOLEAN, OUT points BIGINT, OUT open_reset_below BIGINT, OUT fresh BOOLEAN) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    l RECORD;
BEGIN
    SELECT * INTO l FROM escalation_lock_member_points(g, u, now_ms, shared);
    IF NOT l.fresh THEN
        PERFORM escalation_refresh_member_points(g, u, now_ms);
        SELECT * INTO l FROM escalation_lock_member_points(g, u, now_ms, shared);
    END IF;
    points := l.points;
    open_reset_below := l.open_reset_below;
    fresh := l.fresh;
    INSERT INTO case_points (case_id, guild_id, user_id, points, counts_until, created_at, updated_at)
    VALUES (cid, g, u, pts, until_ms, created_ms, created_ms);
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION escalation_add_case_points(BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BOOLEAN);
DROP FUNCTION escalation_lock_member_points(BIGINT, BIGINT, BIGINT, BOOLEAN);
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
DROP FUNCTION escalation_refresh_member_points(BIGINT, BIGINT, BIGINT);
DROP TRIGGER case_points_member ON case_points;
DROP FUNCTION case_points_member();
DROP TABLE member_points;
