-- Kept in lockstep with ../postgres/00029_case_adding_points.sql, which drops case_points'
-- reference to guilds (its check locked the guild's row, the one case numbering updates)
-- and adds the function that gives a warning its points row in the statement that reads it.
-- Neither applies here: SQLite's foreign-key checks take no row locks (the write transaction
-- holds the whole database), and it has no stored functions (the same query is two
-- statements written in Go: sqlite.go, EscalationCaseAddingPoints). So this version changes
-- nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
