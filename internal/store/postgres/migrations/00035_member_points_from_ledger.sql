-- A member's points read from the ledger again, bounded, instead of from member_points
-- (migration 00028), which is dropped with its stripes, triggers and recomputation (issue
-- 15, docs/benchmarks.md session 12). Prototypes suggested the stripes were the largest
-- part of what escalation cost a warning on PostgreSQL; built correctly, the change
-- measured the same as the stripes, and is kept for what it removes: a derived table that
-- could drift from the ledger, its triggers on every points row, its recomputation, and a
-- deadlock of two voids of one member once points had stopped counting.
--
-- Why a bounded sum is enough: every counting points row carries at least one point (the
-- partial index case_points_counting is WHERE counting AND points > 0), so the sum of a
-- member's first L counting rows (by counts_until, the index's order: at most L index
-- entries read) is their exact sum when it is below L, and at least L otherwise. exact
-- (the column the old functions called fresh) says which. The caller picks L (lim) so that
-- a lower bound at or above it decides the evaluation as the exact sum would: at or above
-- the highest threshold and every open firing's reset level (plus what the transaction's
-- status changes added, escalation.Service.evaluateMember), nothing is crossed and nothing
-- re-arms. The functions that read under the member's lock raise L to the member's highest
-- open reset level themselves (an open firing of settings since changed may reset above
-- today's highest threshold).
--
-- The functions are planned generically (plan_cache_mode): the bounded read's custom plan
-- is estimated far cheaper than its generic one, so with the default setting PL/pgSQL
-- re-planned it on every call, which cost more than the stripes saved (prototypes V9 and
-- V11 in docs/benchmarks.md).
--
-- Kept in lockstep with ../sqlite/00035_member_points_from_ledger.sql.

-- +goose Up
DROP FUNCTION escalation_case_adding_points(BIGINT, BIGINT, TEXT, TEXT, TEXT, JSONB, BIGINT, BIGINT, BIGINT, BIGINT);
DROP FUNCTION escalation_add_case_points(BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BOOLEAN);
DROP FUNCTION escalation_lock_member_points(BIGINT, BIGINT, BIGINT, BOOLEAN);
DROP FUNCTION escalation_refresh_member_points(BIGINT, BIGINT, BIGINT);
DROP TRIGGER case_points_member_insert ON case_points;
DROP TRIGGER case_points_member ON case_points;
DROP FUNCTION case_points_member();
DROP TABLE member_points;

-- The member's lock (migration 00025 says why) and then, in a statement of its own (a new
-- snapshot, which sees every transaction that held the lock before), the highest reset level
-- of their open firings and their points bounded by GREATEST(lim, that level).
-- +goose StatementBegin
CREATE FUNCTION escalation_lock_member_points(g BIGINT, u BIGINT, now_ms BIGINT, shared BOOLEAN, lim BIGINT,
    OUT points BIGINT, OUT open_reset_below BIGINT, OUT exact BOOLEAN) LANGUAGE plpgsql VOLATILE
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    k BIGINT := hashtextextended(current_schema() || ':gavel escalation member ' || g || ':' || u, 0);
    l BIGINT;
BEGIN
    IF shared THEN
        PERFORM pg_advisory_xact_lock_shared(k);
    ELSE
        PERFORM pg_advisory_xact_lock(k);
    END IF;
    SELECT COALESCE(MAX(f.reset_below), 0) INTO open_reset_below FROM escalation_firings f
    WHERE f.guild_id = g AND f.user_id = u AND f.rearmed_at IS NULL;
    l := GREATEST(lim, open_reset_below);
    SELECT COALESCE(SUM(x.points), 0) INTO points FROM (SELECT p.points FROM case_points p
        WHERE p.guild_id = g AND p.user_id = u AND p.counting AND p.points > 0 AND p.counts_until > now_ms
        ORDER BY p.counts_until LIMIT l) x;
    exact := points < l;
END;
$$;
-- +goose StatementEnd

-- The lock and the read (the points without this row), then the case's points row.
-- +goose StatementBegin
CREATE FUNCTION escalation_add_case_points(cid BIGINT, g BIGINT, u BIGINT, pts BIGINT, until_ms BIGINT, created_ms BIGINT, now_ms BIGINT,
    shared BOOLEAN, lim BIGINT, OUT points BIGINT, OUT open_reset_below BIGINT, OUT exact BOOLEAN) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    l RECORD;
BEGIN
    SELECT * INTO l FROM escalation_lock_member_points(g, u, now_ms, shared, lim);
    points := l.points;
    open_reset_below := l.open_reset_below;
    exact := l.exact;
    INSERT INTO case_points (case_id, guild_id, user_id, points, counts_until, created_at, updated_at)
    VALUES (cid, g, u, pts, until_ms, created_ms, created_ms);
END;
$$;
-- +goose StatementEnd

-- As migration 00034's, with the member's points read from the ledger, bounded: before the
-- lock by top (the read only picks the lock's mode: share mode when the member is at or
-- above top already), under it by GREATEST(top, the highest open reset level). A single
-- case's row is all the change adds, so that bound settles the evaluation when it is
-- reached. r_member_fresh is the read's exact.
-- +goose StatementBegin
CREATE FUNCTION escalation_case_adding_points(cid BIGINT, now_ms BIGINT, want_config_md5 TEXT, want_type TEXT,
    want_reason TEXT, want_metadata JSONB, want_created_at BIGINT, pts BIGINT, until_ms BIGINT, top BIGINT)
RETURNS TABLE (r_config TEXT, r_config_same BOOLEAN, r_id BIGINT, r_guild_id BIGINT, r_user_id BIGINT, r_number BIGINT, r_type TEXT,
    r_status TEXT, r_reason TEXT, r_metadata JSONB, r_created_at BIGINT, r_points BIGINT, r_counts_until BIGINT, r_member_points BIGINT,
    r_member_fresh BOOLEAN, r_open_reset_below BIGINT, r_added BOOLEAN, r_shared BOOLEAN)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    own BIGINT;
    k BIGINT;
    l BIGINT;
BEGIN
    SELECT e.config IS NOT NULL AND md5(e.config) = want_config_md5,
        CASE WHEN e.config IS NOT NULL AND md5(e.config) = want_config_md5 THEN '' ELSE COALESCE(e.config, '') END,
        c.id, c.guild_id, c.user_id, c.number, c.type, c.status, c.reason, c.metadata, c.created_at,
        COALESCE(p.points, -1), COALESCE(p.counts_until, 0),
        (SELECT COALESCE(SUM(x.points), 0) FROM (SELECT q.points FROM case_points q
            WHERE q.guild_id = c.guild_id AND q.user_id = c.user_id AND q.counting AND q.points > 0 AND q.counts_until > now_ms
            ORDER BY q.counts_until LIMIT GREATEST(top, 1)) x)
    INTO r_config_same, r_config, r_id, r_guild_id, r_user_id, r_number, r_type, r_status, r_reason, r_metadata, r_created_at,
        r_points, r_counts_until, own
    FROM cases c LEFT JOIN case_points p ON p.case_id = c.id LEFT JOIN escalation_config e ON e.guild_id = c.guild_id
    WHERE c.id = cid;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    r_member_points := 0;
    r_member_fresh := TRUE;
    r_open_reset_below := 0;
    r_added := FALSE;
    r_shared := FALSE;
    IF NOT r_config_same AND r_config = '' THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF r_config_same AND r_points < 0 AND r_status = 'active' AND r_type = want_type
        AND r_reason = want_reason AND r_metadata = want_metadata AND r_created_at = want_created_at
        AND pts > 0 AND until_ms > now_ms THEN
        r_shared := own >= top;
        k := hashtextextended(current_schema() || ':gavel escalation member ' || r_guild_id || ':' || r_user_id, 0);
        IF r_shared THEN
            PERFORM pg_advisory_xact_lock_shared(k);
        ELSE
            PERFORM pg_advisory_xact_lock(k);
        END IF;
        SELECT COALESCE(MAX(f.reset_below), 0) INTO r_open_reset_below FROM escalation_firings f
        WHERE f.guild_id = r_guild_id AND f.user_id = r_user_id AND f.rearmed_at IS NULL;
        l := GREATEST(top, r_open_reset_below, 1);
        SELECT COALESCE(SUM(x.points), 0) INTO r_member_points FROM (SELECT q.points FROM case_points q
            WHERE q.guild_id = r_guild_id AND q.user_id = r_user_id AND q.counting AND q.points > 0 AND q.counts_until > now_ms
            ORDER BY q.counts_until LIMIT l) x;
        r_member_fresh := r_member_points < l;
        -- The points row, counting (the case is active: this transaction changed its status
        -- and holds its row). Its insert trigger, which would read the case's status to say
        -- so, skips the row gavel.case_points_added names (migration 00031); the setting
        -- names this case, whose row cannot be inserted again (primary key).
        PERFORM set_config('gavel.case_points_added', cid::text, true);
        INSERT INTO case_points (case_id, guild_id, user_id, points, counts_until, created_at, updated_at, counting)
        VALUES (cid, r_guild_id, r_user_id, pts, until_ms, now_ms, now_ms, TRUE);
        r_added := TRUE;
        r_points := pts;
        r_counts_until := until_ms;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT COALESCE(MAX(f.reset_below), 0) INTO r_open_reset_below FROM escalation_firings f
    WHERE f.guild_id = r_guild_id AND f.user_id = r_user_id AND f.rearmed_at IS NULL;
    l := GREATEST(top, r_open_reset_below, 1);
    SELECT COALESCE(SUM(x.points), 0) INTO r_member_points FROM (SELECT q.points FROM case_points q
        WHERE q.guild_id = r_guild_id AND q.user_id = r_user_id AND q.counting AND q.points > 0 AND q.counts_until > now_ms
        ORDER BY q.counts_until LIMIT l) x;
    r_member_fresh := r_member_points < l;
    IF r_config_same THEN
        -- Not the guessed case after all: the caller needs the text to evaluate it.
        SELECT e.config INTO r_config FROM escalation_config e WHERE e.guild_id = r_guild_id;
        r_config_same := FALSE;
    END IF;
    RETURN NEXT;
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- member_points as migrations 00028 and 00031 left it, every stripe of every member with a
-- points row to be recomputed before use (next_expiry 0, as 00028's backfill), and the
-- functions as migrations 00028 and 00034 left them.
DROP FUNCTION escalation_case_adding_points(BIGINT, BIGINT, TEXT, TEXT, TEXT, JSONB, BIGINT, BIGINT, BIGINT, BIGINT);
DROP FUNCTION escalation_add_case_points(BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BIGINT, BOOLEAN, BIGINT);
DROP FUNCTION escalation_lock_member_points(BIGINT, BIGINT, BIGINT, BOOLEAN, BIGINT);
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

CREATE TRIGGER case_points_member_insert AFTER INSERT ON case_points FOR EACH ROW
    WHEN (current_setting('gavel.case_points_added', true) IS DISTINCT FROM NEW.case_id::text)
    EXECUTE FUNCTION case_points_member();
CREATE TRIGGER case_points_member AFTER DELETE OR UPDATE OF case_id, guild_id, user_id, points, counts_until, counting
    ON case_points FOR EACH ROW EXECUTE FUNCTION case_points_member();
-- +goose StatementBegin
CREATE FUNCTION escalation_case_adding_points(cid BIGINT, now_ms BIGINT, want_config_md5 TEXT, want_type TEXT,
    want_reason TEXT, want_metadata JSONB, want_created_at BIGINT, pts BIGINT, until_ms BIGINT, top BIGINT)
RETURNS TABLE (r_config TEXT, r_config_same BOOLEAN, r_id BIGINT, r_guild_id BIGINT, r_user_id BIGINT, r_number BIGINT, r_type TEXT,
    r_status TEXT, r_reason TEXT, r_metadata JSONB, r_created_at BIGINT, r_points BIGINT, r_counts_until BIGINT, r_member_points BIGINT,
    r_member_fresh BOOLEAN, r_open_reset_below BIGINT, r_added BOOLEAN, r_shared BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    own BIGINT;
    own_fresh BOOLEAN;
    s BIGINT;
    k BIGINT;
BEGIN
    SELECT e.config IS NOT NULL AND md5(e.config) = want_config_md5,
        CASE WHEN e.config IS NOT NULL AND md5(e.config) = want_config_md5 THEN '' ELSE COALESCE(e.config, '') END,
        c.id, c.guild_id, c.user_id, c.number, c.type, c.status, c.reason, c.metadata, c.created_at,
        COALESCE(p.points, -1), COALESCE(p.counts_until, 0), m.points
    INTO r_config_same, r_config, r_id, r_guild_id, r_user_id, r_number, r_type, r_status, r_reason, r_metadata, r_created_at,
        r_points, r_counts_until, own
    FROM cases c LEFT JOIN case_points p ON p.case_id = c.id LEFT JOIN escalation_config e ON e.guild_id = c.guild_id
        LEFT JOIN member_points m ON m.guild_id = c.guild_id AND m.user_id = c.user_id AND m.stripe = cid % 16
    WHERE c.id = cid;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    r_member_points := 0;
    r_member_fresh := TRUE;
    r_open_reset_below := 0;
    r_added := FALSE;
    r_shared := FALSE;
    IF NOT r_config_same AND r_config = '' THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF r_config_same AND r_points < 0 AND r_status = 'active' AND r_type = want_type
        AND r_reason = want_reason AND r_metadata = want_metadata AND r_created_at = want_created_at
        AND pts > 0 AND until_ms > now_ms THEN
        -- The read without the lock only picks its mode: the case's own stripe (read with
        -- the case), the member's stripes only when that one alone does not reach top.
        IF COALESCE(own, 0) >= top THEN
            r_shared := TRUE;
        ELSE
            SELECT COALESCE(SUM(m.points), 0) INTO s FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id;
            r_shared := s >= top;
        END IF;
        k := hashtextextended(current_schema() || ':gavel escalation member ' || r_guild_id || ':' || r_user_id, 0);
        own := NULL;
        IF r_shared THEN
            PERFORM pg_advisory_xact_lock_shared(k);
            SELECT m.points, m.as_of <= now_ms AND now_ms < m.next_expiry,
                COALESCE((SELECT MAX(f.reset_below) FROM escalation_firings f
                    WHERE f.guild_id = r_guild_id AND f.user_id = r_user_id AND f.rearmed_at IS NULL), 0)
            INTO own, own_fresh, r_open_reset_below
            FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id AND m.stripe = cid % 16;
        ELSE
            PERFORM pg_advisory_xact_lock(k);
        END IF;
        IF own IS NOT NULL AND own_fresh AND own >= top AND own >= r_open_reset_below THEN
            -- A lower bound of the member's points that settles the evaluation (see 2.).
            r_member_points := own;
        ELSE
            SELECT COALESCE(SUM(m.points), 0), COALESCE(BOOL_AND(m.as_of <= now_ms AND now_ms < m.next_expiry), TRUE),
                COALESCE((SELECT MAX(f.reset_below) FROM escalation_firings f
                    WHERE f.guild_id = r_guild_id AND f.user_id = r_user_id AND f.rearmed_at IS NULL), 0)
            INTO r_member_points, r_member_fresh, r_open_reset_below
            FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id;
            IF NOT r_member_fresh THEN
                PERFORM escalation_refresh_member_points(r_guild_id, r_user_id, now_ms);
                SELECT COALESCE(SUM(m.points), 0), COALESCE(BOOL_AND(m.as_of <= now_ms AND now_ms < m.next_expiry), TRUE)
                INTO r_member_points, r_member_fresh FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id;
            END IF;
        END IF;
        -- The points row, counting (the case is active, see 3.), with what its two insert
        -- triggers would do done here: they skip the row gavel.case_points_added names.
        PERFORM set_config('gavel.case_points_added', cid::text, true);
        WITH ins AS (
            INSERT INTO case_points (case_id, guild_id, user_id, points, counts_until, created_at, updated_at, counting)
            VALUES (cid, r_guild_id, r_user_id, pts, until_ms, now_ms, now_ms, TRUE)
        )
        INSERT INTO member_points AS m (guild_id, user_id, stripe, points, next_expiry, as_of)
        VALUES (r_guild_id, r_user_id, cid % 16, pts, until_ms, 0)
        ON CONFLICT (guild_id, user_id, stripe) DO UPDATE SET
            points = m.points + CASE WHEN until_ms > m.as_of THEN pts ELSE 0 END,
            next_expiry = CASE WHEN until_ms > m.as_of THEN LEAST(m.next_expiry, until_ms) ELSE m.next_expiry END;
        r_added := TRUE;
        r_points := pts;
        r_counts_until := until_ms;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT COALESCE(SUM(m.points), 0), COALESCE(BOOL_AND(m.as_of <= now_ms AND now_ms < m.next_expiry), TRUE),
        COALESCE((SELECT MAX(f.reset_below) FROM escalation_firings f
            WHERE f.guild_id = r_guild_id AND f.user_id = r_user_id AND f.rearmed_at IS NULL), 0)
    INTO r_member_points, r_member_fresh, r_open_reset_below
    FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id;
    IF r_config_same THEN
        -- Not the guessed case after all: the caller needs the text to evaluate it.
        SELECT e.config INTO r_config FROM escalation_config e WHERE e.guild_id = r_guild_id;
        r_config_same := FALSE;
    END IF;
    RETURN NEXT;
END;
$$;
-- +goose StatementEnd

