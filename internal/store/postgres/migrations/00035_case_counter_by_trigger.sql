-- Kept in lockstep with ../sqlite/00035_case_counter_by_trigger.sql, which has a case's
-- insert raise its guild's counter in the trigger that writes its 'created' history row.
-- PostgreSQL numbers a batch of cases in one statement under the counter row's lock (several
-- processes share the database), so this version changes nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
