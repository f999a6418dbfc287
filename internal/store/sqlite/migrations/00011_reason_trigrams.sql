-- The case browser's reason search on SQLite. Without an index it reads the guild's cases
-- newest first and tests each reason with LIKE: quick for a common word, but a word few
-- cases hold reads the whole guild (0.5 s at a million cases, docs/benchmarks.md "Case
-- browser"). A trigram index finds the cases that hold every three-letter piece of a word,
-- and the search then tests only those with the same LIKE, so its answers do not change:
-- substrings, ASCII case-insensitively (the index folds case more widely, so its candidates
-- are a superset of LIKE's matches, never fewer).
--
-- detail=none and columnsize=0: the search asks only which cases hold a trigram, never
-- where in the reason, so the index keeps no positions and no lengths, which makes it a
-- fraction of a full index to write (docs/benchmarks.md "Case creation"). The reasons stay
-- in cases (content='cases'), kept in step by the triggers below. Words under three letters
-- have no trigram: the search tests those with LIKE alone (internal/store/casequery.go).
--
-- PostgreSQL's side (../postgres/00011_reason_trigrams.sql) changes nothing: its full-text
-- index already answers the search.

-- +goose Up
CREATE VIRTUAL TABLE cases_reason_trigrams USING fts5 (
    reason, content = 'cases', content_rowid = 'id',
    tokenize = 'trigram case_sensitive 0', detail = none, columnsize = 0
);

INSERT INTO cases_reason_trigrams (cases_reason_trigrams) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER cases_reason_trigrams_insert AFTER INSERT ON cases BEGIN
    INSERT INTO cases_reason_trigrams (rowid, reason) VALUES (new.id, new.reason);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER cases_reason_trigrams_update AFTER UPDATE OF reason ON cases BEGIN
    INSERT INTO cases_reason_trigrams (cases_reason_trigrams, rowid, reason) VALUES ('delete', old.id, old.reason);
    INSERT INTO cases_reason_trigrams (rowid, reason) VALUES (new.id, new.reason);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER cases_reason_trigrams_delete AFTER DELETE ON cases BEGIN
    INSERT INTO cases_reason_trigrams (cases_reason_trigrams, rowid, reason) VALUES ('delete', old.id, old.reason);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER cases_reason_trigrams_delete;
DROP TRIGGER cases_reason_trigrams_update;
DROP TRIGGER cases_reason_trigrams_insert;
DROP TABLE cases_reason_trigrams;
