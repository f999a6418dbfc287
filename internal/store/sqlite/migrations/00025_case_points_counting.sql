-- Escalation's sum without the cases table: case_points.counting says whether the case is
-- active, kept by the database itself (a trigger when a points row is written, another when
-- a case's status changes), so it is a copy that cannot drift from cases.status. The sum
-- then reads one partial, covering index (guild, user, counts_until, points) over the rows
-- that count, instead of a points row and a case per counting case (docs/benchmarks.md,
-- issue 15). Kept in lockstep with ../postgres/00025_case_points_counting.sql.

-- +goose Up
ALTER TABLE case_points ADD COLUMN counting INTEGER NOT NULL DEFAULT 0 CHECK (counting IN (0, 1));
UPDATE case_points SET counting = (SELECT c.status = 'active' FROM cases c WHERE c.id = case_points.case_id);

-- +goose StatementBegin
CREATE TRIGGER case_points_counting_insert AFTER INSERT ON case_points
WHEN new.counting IS NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = new.case_id AND c.status = 'active') BEGIN
    UPDATE case_points SET counting = EXISTS (SELECT 1 FROM cases c WHERE c.id = new.case_id AND c.status = 'active')
    WHERE case_id = new.case_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER case_points_counting_update AFTER UPDATE OF case_id, counting ON case_points
WHEN new.counting IS NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = new.case_id AND c.status = 'active') BEGIN
    UPDATE case_points SET counting = EXISTS (SELECT 1 FROM cases c WHERE c.id = new.case_id AND c.status = 'active')
    WHERE case_id = new.case_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER cases_status_points AFTER UPDATE OF status ON cases WHEN old.status IS NOT new.status BEGIN
    UPDATE case_points SET counting = (new.status = 'active') WHERE case_id = new.id;
END;
-- +goose StatementEnd

CREATE INDEX case_points_counting ON case_points (guild_id, user_id, counts_until, points)
    WHERE counting = 1 AND points > 0;
DROP INDEX case_points_member;

-- +goose Down
CREATE INDEX case_points_member ON case_points (guild_id, user_id, counts_until);
DROP INDEX case_points_counting;
DROP TRIGGER cases_status_points;
DROP TRIGGER case_points_counting_update;
DROP TRIGGER case_points_counting_insert;
ALTER TABLE case_points DROP COLUMN counting;
