-- escalation_case_adding_points in fewer statements: what a warning costs with escalation on
-- is mostly the PL/pgSQL function's statements, each a snapshot and an executor run of its
-- own, with no single one dominating (a server-side profile of BenchmarkWarnCreation, issue
-- 15, session 11: removing any one of the insert, the stripe upsert, the lock or a read
-- changed the server's CPU per warning by less than the run-to-run spread). From ten
-- statements to five on the benchmark's path (a member at or above every threshold):
--
-- 1. The settings' text is returned only when its md5 is not the caller's (config_same says
--    which): the caller has the text it computed the md5 from, a few kilobytes a warning
--    that the client no longer reads. The case's own stripe comes in the same statement as
--    the case.
-- 2. Under a lock taken in share mode (the member was at or above the highest threshold,
--    top), the case's own stripe and the member's open firings are read in one statement:
--    when that stripe alone is fresh and still at or above top and every open firing's
--    reset level, the member's points (the sum of their stripes) are too, so the points
--    returned are that stripe's, a lower bound that settles the evaluation (nothing is
--    crossed, nothing re-arms: escalation.Service.evaluateMember returns on it), and the
--    other fifteen stripes are not summed. Otherwise the sum is read (and recomputed when
--    stale) as before, and the points returned are the sum.
-- 3. The points row and its stripe's upsert are one statement (a data-modifying WITH), and
--    the row counts: the case was read active in this transaction, which holds its row
--    (it changed the status), so the EXISTS the insert ran is known. gavel.case_points_added
--    is set once and not cleared: it names this case, whose points row cannot be inserted
--    again (primary key), so it skips no other row's triggers.
--
-- SQLite has no stored functions (../sqlite/00034 changes nothing; its
-- EscalationCaseAddingPoints is written in Go, and says config_same too).

-- +goose Up
DROP FUNCTION escalation_case_adding_points(BIGINT, BIGINT, TEXT, TEXT, TEXT, JSONB, BIGINT, BIGINT, BIGINT, BIGINT);
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

-- +goose Down
DROP FUNCTION escalation_case_adding_points(BIGINT, BIGINT, TEXT, TEXT, TEXT, JSONB, BIGINT, BIGINT, BIGINT, BIGINT);
-- +goose StatementBegin
CREATE FUNCTION escalation_case_adding_points(cid BIGINT, now_ms BIGINT, want_config_md5 TEXT, want_type TEXT,
    want_reason TEXT, want_metadata JSONB, want_created_at BIGINT, pts BIGINT, until_ms BIGINT, top BIGINT)
RETURNS TABLE (r_config TEXT, r_id BIGINT, r_guild_id BIGINT, r_user_id BIGINT, r_number BIGINT, r_type TEXT, r_status TEXT,
    r_reason TEXT, r_metadata JSONB, r_created_at BIGINT, r_points BIGINT, r_counts_until BIGINT, r_member_points BIGINT,
    r_member_fresh BOOLEAN, r_open_reset_below BIGINT, r_added BOOLEAN, r_shared BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    s BIGINT;
    k BIGINT;
    c BOOLEAN;
BEGIN
    SELECT COALESCE(e.config, ''), c.id, c.guild_id, c.user_id, c.number, c.type, c.status, c.reason, c.metadata, c.created_at,
        COALESCE(p.points, -1), COALESCE(p.counts_until, 0)
    INTO r_config, r_id, r_guild_id, r_user_id, r_number, r_type, r_status, r_reason, r_metadata, r_created_at, r_points, r_counts_until
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
    IF r_config = '' THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF md5(r_config) = want_config_md5 AND r_points < 0 AND r_status = 'active' AND r_type = want_type
        AND r_reason = want_reason AND r_metadata = want_metadata AND r_created_at = want_created_at
        AND pts > 0 AND until_ms > now_ms THEN
        -- The read without the lock only picks its mode: the case's own stripe first (the
        -- row its points row's trigger updates), the member's stripes only when that one
        -- alone does not reach top.
        SELECT m.points INTO s FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id AND m.stripe = cid % 16;
        IF COALESCE(s, 0) >= top THEN
            r_shared := TRUE;
        ELSE
            SELECT COALESCE(SUM(m.points), 0) INTO s FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id;
            r_shared := s >= top;
        END IF;
        k := hashtextextended(current_schema() || ':gavel escalation member ' || r_guild_id || ':' || r_user_id, 0);
        IF r_shared THEN
            PERFORM pg_advisory_xact_lock_shared(k);
        ELSE
            PERFORM pg_advisory_xact_lock(k);
        END IF;
        SELECT COALESCE(SUM(m.points), 0), COALESCE(BOOL_AND(m.as_of <= now_ms AND now_ms < m.next_expiry), TRUE)
        INTO r_member_points, r_member_fresh FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id;
        IF NOT r_member_fresh THEN
            PERFORM escalation_refresh_member_points(r_guild_id, r_user_id, now_ms);
            SELECT COALESCE(SUM(m.points), 0), COALESCE(BOOL_AND(m.as_of <= now_ms AND now_ms < m.next_expiry), TRUE)
            INTO r_member_points, r_member_fresh FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id;
        END IF;
        SELECT COALESCE(MAX(f.reset_below), 0) INTO r_open_reset_below FROM escalation_firings f
        WHERE f.guild_id = r_guild_id AND f.user_id = r_user_id AND f.rearmed_at IS NULL;
        -- The points row, with what its two insert triggers would do done here (they skip
        -- the row named by gavel.case_points_added): counting as case_points_counting_insert
        -- computes it, and the row's stripe as case_points_member adds it.
        PERFORM set_config('gavel.case_points_added', cid::text, true);
        INSERT INTO case_points AS p (case_id, guild_id, user_id, points, counts_until, created_at, updated_at, counting)
        VALUES (cid, r_guild_id, r_user_id, pts, until_ms, now_ms, now_ms,
            EXISTS (SELECT 1 FROM cases c WHERE c.id = cid AND c.status = 'active'))
        RETURNING p.counting INTO c;
        PERFORM set_config('gavel.case_points_added', '', true);
        INSERT INTO member_points AS m (guild_id, user_id, stripe, points, next_expiry, as_of)
        VALUES (r_guild_id, r_user_id, cid % 16, CASE WHEN c THEN pts ELSE 0 END, CASE WHEN c THEN until_ms ELSE 9223372036854775807 END, 0)
        ON CONFLICT (guild_id, user_id, stripe) DO UPDATE SET
            points = m.points + CASE WHEN c AND until_ms > m.as_of THEN pts ELSE 0 END,
            next_expiry = CASE WHEN c AND until_ms > m.as_of THEN LEAST(m.next_expiry, until_ms) ELSE m.next_expiry END;
        r_added := TRUE;
        r_points := pts;
        r_counts_until := until_ms;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT COALESCE(SUM(m.points), 0), COALESCE(BOOL_AND(m.as_of <= now_ms AND now_ms < m.next_expiry), TRUE)
    INTO r_member_points, r_member_fresh FROM member_points m WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id;
    SELECT COALESCE(MAX(f.reset_below), 0) INTO r_open_reset_below FROM escalation_firings f
    WHERE f.guild_id = r_guild_id AND f.user_id = r_user_id AND f.rearmed_at IS NULL;
    RETURN NEXT;
END;
$$;

-- +goose StatementEnd
