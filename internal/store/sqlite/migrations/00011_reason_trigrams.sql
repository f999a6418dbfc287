-- The case browser's reason search on SQLite. Without an index it reads the guild's cases
-- newest first and tests each reason with LIKE: quick for a common word, but a word few
-- cases hold reads the whole guild (0.5 s at a million cases, docs/benchmarks.md "Case
-- browser"). A trigram index finds the cases that hold every three-letter piece of a word,
-- and the search then tests only those with the same LIKE, so its answers do not change:
-- substrings, ASCII case-insensitively (the index folds case more widely, so its candidates
-- are a superset of LIKE's matches, never fewer).
--
-- detail=none and columnsize=0: the search asks only which cases hold a trigram, never
-- where in the reason, so the index keeps no positions and no lengths. The reasons stay in
-- cases (content='cases').
--
-- New cases are indexed in batches, not one by one: FTS5 writes a segment at every commit
-- that touched it, which cost case creation, one small transaction per few cases, several
-- times its rate (docs/benchmarks.md "Case creation"). cases_reason_trigrams_upto holds the
-- highest case id the index holds; case creation indexes the cases above it once they are
-- 1024 or more (internal/store/sqlite/cases.go), in the creating transaction, and the search
-- reads those few unindexed cases by id besides the index's candidates
-- (internal/store/casequery.go). A reason edited or a case deleted at or below the mark
-- changes the index at once (the triggers); above it, the batch reads the reason as it is.
--
-- PostgreSQL's side (../postgres/00011_reason_trigrams.sql) changes nothing: its full-text
-- index already answers the search.

-- +goose Up
CREATE VIRTUAL TABLE cases_reason_trigrams USING fts5 (
    reason, content = 'cases', content_rowid = 'id',
    tokenize = 'trigram case_sensitive 0', detail = none, columnsize = 0
);

INSERT INTO cases_reason_trigrams (cases_reason_trigrams) VALUES ('rebuild');

CREATE TABLE cases_reason_trigrams_upto (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    upto     INTEGER NOT NULL CHECK (upto >= 0)
) STRICT;

INSERT INTO cases_reason_trigrams_upto (only_row, upto) SELECT 1, COALESCE(MAX(id), 0) FROM cases;

-- +goose StatementBegin
CREATE TRIGGER cases_reason_trigrams_update AFTER UPDATE OF reason ON cases
WHEN old.id <= (SELECT upto FROM cases_reason_trigrams_upto) BEGIN
    INSERT INTO cases_reason_trigrams (cases_reason_trigrams, rowid, reason) VALUES ('delete', old.id, old.reason);
    INSERT INTO cases_reason_trigrams (rowid, reason) VALUES (new.id, new.reason);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER cases_reason_trigrams_delete AFTER DELETE ON cases
WHEN old.id <= (SELECT upto FROM cases_reason_trigrams_upto) BEGIN
    INSERT INTO cases_reason_trigrams (cases_reason_trigrams, rowid, reason) VALUES ('delete', old.id, old.reason);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER cases_reason_trigrams_delete;
DROP TRIGGER cases_reason_trigrams_update;
DROP TABLE cases_reason_trigrams_upto;
DROP TABLE cases_reason_trigrams;
