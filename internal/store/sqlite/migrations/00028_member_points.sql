-- A member's points as a row kept by the database, so that escalation's evaluation of a
-- warning reads one row instead of summing every case of the member that still counts (the
-- sum grew with the member's history and was most of what escalation cost a warning:
-- docs/benchmarks.md, issue 15). The case log stays the ledger: member_points is derived from
-- case_points by triggers on every write of a points row (and so on every status change, by
-- way of case_points.counting, migration 00025), and recomputed from case_points whenever
-- points have stopped counting since it was computed. Kept in lockstep with
-- ../postgres/00028_member_points.sql, which splits a member's row into stripes.
--
-- A row is exact while as_of <= now < next_expiry: points is the sum of the member's counting
-- points rows (counting, points > 0) with counts_until > as_of, and next_expiry is at most the
-- smallest counts_until among those rows (9223372036854775807: none). Once now reaches
-- next_expiry, some of those points may have stopped counting, and the reader recomputes the
-- row (RefreshMemberPoints) with as_of = now. A row with next_expiry 0 is to be recomputed
-- before use (the backfill below). Every points row has its member's row, so a member
-- without one has no points.

-- +goose Up
CREATE TABLE member_points (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    -- stripe is always 0 here (SQLite has one writer, so no two writes wait on the row);
    -- PostgreSQL spreads a member over 16 rows.
    stripe      INTEGER NOT NULL,
    points      INTEGER NOT NULL,
    next_expiry INTEGER NOT NULL,
    as_of       INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id, stripe)
) WITHOUT ROWID;

INSERT INTO member_points (guild_id, user_id, stripe, points, next_expiry, as_of)
SELECT DISTINCT guild_id, user_id, 0, 0, 0, 0 FROM case_points;

-- A points row's contribution is added to its member's row (created when missing: then its
-- only points are this row's, with as_of 0) and removed when the row changes or goes. A
-- contribution counts when the row counts and counts_until > as_of: the row's own rule.
-- +goose StatementBegin
CREATE TRIGGER case_points_member_insert AFTER INSERT ON case_points BEGIN
    INSERT INTO member_points (guild_id, user_id, stripe, points, next_expiry, as_of)
    VALUES (new.guild_id, new.user_id, 0,
        CASE WHEN new.counting = 1 AND new.points > 0 THEN new.points ELSE 0 END,
        CASE WHEN new.counting = 1 AND new.points > 0 THEN new.counts_until ELSE 9223372036854775807 END, 0)
    ON CONFLICT (guild_id, user_id, stripe) DO UPDATE SET
        points = member_points.points + CASE WHEN new.counting = 1 AND new.points > 0 AND new.counts_until > member_points.as_of THEN new.points ELSE 0 END,
        next_expiry = CASE WHEN new.counting = 1 AND new.points > 0 AND new.counts_until > member_points.as_of
            THEN MIN(member_points.next_expiry, new.counts_until) ELSE member_points.next_expiry END;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER case_points_member_update AFTER UPDATE OF case_id, guild_id, user_id, points, counts_until, counting ON case_points BEGIN
    UPDATE member_points SET points = points - old.points
    WHERE guild_id = old.guild_id AND user_id = old.user_id AND stripe = 0
        AND old.counting = 1 AND old.points > 0 AND old.counts_until > as_of;
    INSERT INTO member_points (guild_id, user_id, stripe, points, next_expiry, as_of)
    VALUES (new.guild_id, new.user_id, 0,
        CASE WHEN new.counting = 1 AND new.points > 0 THEN new.points ELSE 0 END,
        CASE WHEN new.counting = 1 AND new.points > 0 THEN new.counts_until ELSE 9223372036854775807 END, 0)
    ON CONFLICT (guild_id, user_id, stripe) DO UPDATE SET
        points = member_points.points + CASE WHEN new.counting = 1 AND new.points > 0 AND new.counts_until > member_points.as_of THEN new.points ELSE 0 END,
        next_expiry = CASE WHEN new.counting = 1 AND new.points > 0 AND new.counts_until > member_points.as_of
            THEN MIN(member_points.next_expiry, new.counts_until) ELSE member_points.next_expiry END;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER case_points_member_delete AFTER DELETE ON case_points BEGIN
    UPDATE member_points SET points = points - old.points
    WHERE guild_id = old.guild_id AND user_id = old.user_id AND stripe = 0
        AND old.counting = 1 AND old.points > 0 AND old.counts_until > as_of;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER case_points_member_delete;
DROP TRIGGER case_points_member_update;
DROP TRIGGER case_points_member_insert;
DROP TABLE member_points;
