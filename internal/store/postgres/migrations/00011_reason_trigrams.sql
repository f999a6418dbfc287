-- Kept in lockstep with ../sqlite/00011_reason_trigrams.sql, which gives SQLite's reason
-- search a trigram index. PostgreSQL's search reads its full-text index (cases_reason_fts,
-- 00001 and 00010), which already finds a rare word in milliseconds at a million cases, so
-- this version changes nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
