-- Kept in lockstep with ../postgres/00034_case_adding_points_fewer_statements.sql, which
-- runs PostgreSQL's escalation_case_adding_points in fewer statements and stores the
-- settings' md5. SQLite has no stored functions: its EscalationCaseAddingPoints is written in
-- Go (store/sqlite/sqlite.go) and compares the md5 there, so this version changes nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
