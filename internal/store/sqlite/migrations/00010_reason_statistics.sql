-- Kept in lockstep with ../postgres/00010_reason_statistics.sql, which raises PostgreSQL's
-- statistics target for the reason's full-text index so that its planner knows rare words.
-- SQLite's reason search (LIKE over the guild's cases, newest first) has no plan choice
-- that statistics would change, so this version changes nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
