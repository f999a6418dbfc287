-- A member's points read from the ledger again, bounded, instead of from member_points
-- (migration 00028), which is dropped with its triggers: the queries sum at most L of the
-- member's counting points rows from the partial, covering index case_points_counting
-- (../postgres/00035_member_points_from_ledger.sql says why that is enough). Kept in
-- lockstep with it.

-- +goose Up
DROP TRIGGER case_points_member_delete;
DROP TRIGGER case_points_member_update;
DROP TRIGGER case_points_member_insert;
DROP TABLE member_points;

-- +goose Down
-- member_points and its triggers as migration 00028 made them, every member with a points
-- row to be recomputed before use (next_expiry 0, as 00028's backfill).
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

