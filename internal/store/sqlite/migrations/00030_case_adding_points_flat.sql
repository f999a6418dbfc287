-- Kept in lockstep with ../postgres/00030_case_adding_points_flat.sql, which writes PostgreSQL's
-- escalation_case_adding_points as one function without nested calls. SQLite has no stored
-- functions (the same query is two statements written in Go: sqlite.go,
-- EscalationCaseAddingPoints), so this version changes nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
