-- Kept in lockstep with ../postgres/00031_case_points_added_inline.sql, which has PostgreSQL's
-- escalation_case_adding_points do what the points row's two insert triggers did and drops
-- the row's reference to its case there (a row lock per warning on the case's row). SQLite
-- has no stored functions and no row locks (the points row is one insert written in Go, and
-- its reference costs no lock), so this version changes nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
