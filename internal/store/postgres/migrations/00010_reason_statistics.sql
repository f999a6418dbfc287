-- The reason search's plan depends on how many cases hold the word. With the default
-- statistics target ANALYZE samples too few reasons to know the rarer words, the planner
-- then guesses 0.5% of the guild for any of them and walks the guild's cases newest first
-- filtering each one, which for a word in a few dozen of a million cases read the whole
-- guild (3.7 s, docs/benchmarks.md "Case browser"). A larger target keeps the frequencies
-- of the guild's ~10,000 most common words: a word among them is estimated from its own
-- count, and one outside them is known to be rarer than all of them, so the planner reads
-- its few cases through the full-text index instead. ANALYZE costs more (seconds at a
-- million cases, done by autovacuum), planning does not.

-- +goose Up
ALTER INDEX cases_reason_fts ALTER COLUMN 1 SET STATISTICS 1000;
ANALYZE cases;

-- +goose Down
ALTER INDEX cases_reason_fts ALTER COLUMN 1 SET STATISTICS -1;
