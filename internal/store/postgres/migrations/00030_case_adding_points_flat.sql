-- escalation_case_adding_points (migration 00029) as one function, and its read without the
-- lock narrowed to one row. A server-side profile of BenchmarkWarnCreation on PostgreSQL
-- (pg_stat_statements with track = all; docs/benchmarks.md, issue 15, session 9) showed what
-- the warning's one statement more than "off" was made of: besides the points row's insert
-- (its two indexes, its reference, its two triggers and the stripe's update), two nested
-- function calls (escalation_add_case_points, then escalation_lock_member_points), each a
-- query of its own through the executor, and two sums over the member's 16 stripes (the
-- read without the lock that picks the lock's mode, then the read under it). Here the body of
-- both functions is inline (they stay, for AddCasePoints and LockMemberPoints), and the read
-- that picks the mode reads the case's own stripe, the row its points row's trigger updates
-- next: stripes are never negative, so when that one alone reaches top the member's points
-- do, and share mode is picked without the other 15; otherwise the member's sum is read as
-- before. The mode is still only picked there; what happens is decided on the read under
-- the lock (escalation.Service.evaluateMember), which is unchanged: the member's sum and
-- freshness (recomputed first when stale), their open firings' highest reset level.
--
-- SQLite has no stored functions (../sqlite/00030 changes nothing).

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION escalation_case_adding_points(cid BIGINT, now_ms BIGINT, want_config_md5 TEXT, want_type TEXT,
    want_reason TEXT, want_metadata JSONB, want_created_at BIGINT, pts BIGINT, until_ms BIGINT, top BIGINT)
RETURNS TABLE (r_config TEXT, r_id BIGINT, r_guild_id BIGINT, r_user_id BIGINT, r_number BIGINT, r_type TEXT, r_status TEXT,
    r_reason TEXT, r_metadata JSONB, r_created_at BIGINT, r_points BIGINT, r_counts_until BIGINT, r_member_points BIGINT,
    r_member_fresh BOOLEAN, r_open_reset_below BIGINT, r_added BOOLEAN, r_shared BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    s BIGINT;
    k BIGINT;
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
        INSERT INTO case_points (case_id, guild_id, user_id, points, counts_until, created_at, updated_at)
        VALUES (cid, r_guild_id, r_user_id, pts, until_ms, now_ms, now_ms);
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

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION escalation_case_adding_points(cid BIGINT, now_ms BIGINT, want_config_md5 TEXT, want_type TEXT,
    want_reason TEXT, want_metadata JSONB, want_created_at BIGINT, pts BIGINT, until_ms BIGINT, top BIGINT)
RETURNS TABLE (r_config TEXT, r_id BIGINT, r_guild_id BIGINT, r_user_id BIGINT, r_number BIGINT, r_type TEXT, r_status TEXT,
    r_reason TEXT, r_metadata JSONB, r_created_at BIGINT, r_points BIGINT, r_counts_until BIGINT, r_member_points BIGINT,
    r_member_fresh BOOLEAN, r_open_reset_below BIGINT, r_added BOOLEAN, r_shared BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    l RECORD;
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
        -- The read without the lock only picks its mode.
        SELECT COALESCE(SUM(m.points), 0) INTO r_member_points FROM member_points m
        WHERE m.guild_id = r_guild_id AND m.user_id = r_user_id;
        r_shared := r_member_points >= top;
        SELECT * INTO l FROM escalation_add_case_points(cid, r_guild_id, r_user_id, pts, until_ms, now_ms, now_ms, r_shared);
        r_added := TRUE;
        r_points := pts;
        r_counts_until := until_ms;
        r_member_points := l.points;
        r_open_reset_below := l.open_reset_below;
        r_member_fresh := l.fresh;
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
