-- A case's insert raises its guild's counter itself, in the trigger that already writes the
-- case's 'created' history row. Case creation (sqlite.InsertCases) used to run the guild's
-- counter update and a read of the counter as two statements of their own before the
-- inserts; it now reads the counter once per guild and batch and numbers the cases from it,
-- and each insert keeps the counter at the guild's highest number. SQLite runs one writer,
-- so nothing can allocate between the read and the inserts, and a rolled-back insert takes
-- its counter change with it. The counter only moves up: an insert below it (a number given
-- by hand) leaves it. A guild without its row is given one before its first case (the
-- trigger's update then has a row to raise). (docs/benchmarks.md, issue 11, session 11.)
--
-- Kept in lockstep with ../postgres/00035_case_counter_by_trigger.sql, which changes
-- nothing: PostgreSQL numbers cases in one statement under the counter row's lock, shared by
-- several processes.

-- +goose Up
DROP TRIGGER cases_record_creation;
-- +goose StatementBegin
CREATE TRIGGER cases_record_creation AFTER INSERT ON cases BEGIN
    INSERT INTO case_events (case_id, guild_id, kind, actor_id, new_value, created_at)
    VALUES (new.id, new.guild_id, 'created', new.moderator_id, new.status, new.created_at);
    UPDATE guilds SET case_count = new.number WHERE id = new.guild_id AND case_count < new.number;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER cases_record_creation;
-- +goose StatementBegin
CREATE TRIGGER cases_record_creation AFTER INSERT ON cases BEGIN
    INSERT INTO case_events (case_id, guild_id, kind, actor_id, new_value, created_at)
    VALUES (new.id, new.guild_id, 'created', new.moderator_id, new.status, new.created_at);
END;
-- +goose StatementEnd
