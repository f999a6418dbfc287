-- The case's points row as escalation_case_adding_points writes it, with less around it. A
-- server-side profile (docs/benchmarks.md, issue 15, session 9) put about half of what
-- escalation costs a warning on PostgreSQL in that one row's insert: besides its heap row and
-- two index entries, two PL/pgSQL trigger calls (case_points_counting_insert, migration 00025,
-- then case_points_member, migration 00028, queued as an AFTER trigger event) and the check
-- of its reference to the case, which locks the case's row FOR KEY SHARE: a WAL record that
-- dirties the page the warning's own status change just wrote, where the other warnings in
-- flight write theirs. Two changes:
--
-- 1. The function does what the two insert triggers did, in its own statements: the row's
--    counting computed as case_points_counting_insert computes it (whether the case is
--    active, read in the insert itself), and the row's points added to its stripe by the
--    upsert case_points_member runs, after the row as before (the same lock order as
--    before: a recomputation's stripes, then the row's own). The two triggers skip the one
--    row the function names in the transaction-local setting gavel.case_points_added while it
--    inserts it (a WHEN clause, so no call at all), and run as before for every other insert,
--    update and delete (voids, status changes, edited points, rows written by hand), which is
--    what keeps member_points right on every other path. The setting names the case, whose
--    points row can be inserted only once (primary key), and is cleared after the insert.
--
-- 2. No reference to cases. A points row is inserted for a case that exists, and a case is
--    never deleted: the case log is gavel's ledger, no statement deletes from cases, and the
--    reference's only other duty (refusing to delete a case that has points) has nothing to
--    refuse. The existence is still checked on every path: the function reads the case in
--    the same call before it inserts (and inserts nothing when there is none), and the
--    insert trigger every other path runs raises foreign_key_violation when the case is
--    missing (it read the case already, for counting; TestPointsRowNeedsItsCase). SQLite
--    keeps its reference (no row locks, no stored functions: ../sqlite/00031 changes
--    nothing).

-- +goose Up
ALTER TABLE case_points DROP CONSTRAINT case_points_case_id_fkey;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION case_points_counting_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s TEXT;
BEGIN
    SELECT c.status INTO s FROM cases c WHERE c.id = NEW.case_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'case_points: case % does not exist', NEW.case_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    NEW.counting := s = 'active';
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

DROP TRIGGER case_points_counting_insert ON case_points;
CREATE TRIGGER case_points_counting_insert BEFORE INSERT ON case_points FOR EACH ROW
    WHEN (current_setting('gavel.case_points_added', true) IS DISTINCT FROM NEW.case_id::text)
    EXECUTE FUNCTION case_points_counting_insert();
CREATE TRIGGER case_points_counting_update BEFORE UPDATE OF case_id, counting ON case_points
    FOR EACH ROW EXECUTE FUNCTION case_points_counting_insert();
DROP TRIGGER case_points_member ON case_points;
CREATE TRIGGER case_points_member_insert AFTER INSERT ON case_points FOR EACH ROW
    WHEN (current_setting('gavel.case_points_added', true) IS DISTINCT FROM NEW.case_id::text)
    EXECUTE FUNCTION case_points_member();
CREATE TRIGGER case_points_member AFTER DELETE OR UPDATE OF case_id, guild_id, user_id, points, counts_until, counting
    ON case_points FOR EACH ROW EXECUTE FUNCTION case_points_member();

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

-- +goose Down
DROP TRIGGER case_points_member ON case_points;
DROP TRIGGER case_points_member_insert ON case_points;
CREATE TRIGGER case_points_member AFTER INSERT OR DELETE OR UPDATE OF case_id, guild_id, user_id, points, counts_until, counting
    ON case_points FOR EACH ROW EXECUTE FUNCTION case_points_member();
DROP TRIGGER case_points_counting_update ON case_points;
DROP TRIGGER case_points_counting_insert ON case_points;
CREATE TRIGGER case_points_counting_insert BEFORE INSERT OR UPDATE OF case_id, counting ON case_points
    FOR EACH ROW EXECUTE FUNCTION case_points_counting_insert();
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION case_points_counting_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.counting := EXISTS (SELECT 1 FROM cases c WHERE c.id = NEW.case_id AND c.status = 'active');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
ALTER TABLE case_points ADD CONSTRAINT case_points_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases (id);
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
