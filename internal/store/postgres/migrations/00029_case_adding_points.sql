-- What escalation still cost a warning on PostgreSQL (docs/benchmarks.md, issue 15: 0.76-0.89
-- of the rate with escalation off, 16 warnings at once on one member) was two things, both
-- paid while the guild's row was in play:
--
-- 1. The guild's row lock. case_points.guild_id referenced guilds, so every points row's
--    foreign-key check locked the guild's row FOR KEY SHARE until its transaction ended: the
--    row that case numbering updates for every new case of the guild. A share lock does not
--    block numbering's update, but with several warnings in flight every lock and every
--    numbering update of that one row had to build a multixact of all its current lockers,
--    on the guild's one hot page. The reference is dropped: a points row belongs to its
--    case (case_id still references cases, whose guild_id references guilds), so it adds
--    nothing the case's own does not, and case_events.guild_id never had one for the same
--    reason. SQLite takes no row locks; its reference stays (../sqlite/00029).
--
-- 2. A round trip: the read of the settings and the case, then escalation_add_case_points.
--    The case's points come from the guild's settings and the case's type, reason, metadata
--    and creation time, which gavel's code decides (escalation.Config.PointsFor), so the
--    statement cannot compute them; but the evaluation knows, before reading, the settings
--    it last parsed and the case as the transaction wrote it. It passes the points it
--    computed from those, with what it computed them from, and escalation_case_adding_points
--    gives the case its points row (escalation_add_case_points: the member's lock, their
--    points, the row) only when the stored settings (by their md5) and case are exactly
--    those; otherwise it only reads, as EscalationConfigAndCase does, and the evaluation goes
--    on as before. So the points always come from the stored settings and case, and a guess
--    that does not hold costs nothing but the round trip it did not save. The lock's mode is
--    decided here on the read made before the lock, by the rule
--    escalation.Service.evaluateMember applies to a single addition: share mode when the
--    member's points were already at or above the highest threshold (top).
--
-- Kept in lockstep with ../sqlite/00029_case_adding_points.sql.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION escalation_case_adding_points(cid BIGINT, now_ms BIGINT, want_config_md5 TEXT, want_type TEXT,
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

ALTER TABLE case_points DROP CONSTRAINT case_points_guild_id_fkey;

-- +goose Down
ALTER TABLE case_points ADD CONSTRAINT case_points_guild_id_fkey FOREIGN KEY (guild_id) REFERENCES guilds (id);
DROP FUNCTION escalation_case_adding_points(BIGINT, BIGINT, TEXT, TEXT, TEXT, JSONB, BIGINT, BIGINT, BIGINT, BIGINT);
