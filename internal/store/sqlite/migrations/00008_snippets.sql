-- Snippets: named text a member posts with `snippet <name>` (internal/snippets), and the
-- append-only history of every change to them. Kept in lockstep with
-- ../postgres/00008_snippets.sql. Times are Unix milliseconds; booleans are 0/1. The CHECKs
-- repeat the rules internal/snippets enforces with clear messages (docs/snippets.md), so a
-- write from anywhere else cannot leave a snippet the bot would refuse.

-- +goose Up
CREATE TABLE snippets (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL REFERENCES guilds (id),
    -- name as it was typed; name_key is its lower-case form, unique per guild, so "FAQ" and
    -- "faq" are one snippet.
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 32 AND name NOT GLOB '*[^A-Za-z0-9_-]*'),
    name_key     TEXT    NOT NULL CHECK (name_key = lower(name)),
    content      TEXT    NOT NULL CHECK (length(content) BETWEEN 1 AND 1960),
    author_id    INTEGER NOT NULL CHECK (author_id > 0),
    uses         INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    locked       INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    CONSTRAINT snippets_guild_name UNIQUE (guild_id, name_key)
) STRICT;

-- The history outlives a deleted snippet, so snippet_id refers to no row.
CREATE TABLE snippet_events (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL REFERENCES guilds (id),
    snippet_id INTEGER NOT NULL CHECK (snippet_id > 0),
    actor_id   INTEGER NOT NULL CHECK (actor_id > 0),
    kind       TEXT    NOT NULL CHECK (kind IN ('create', 'edit', 'rename', 'delete', 'lock', 'unlock')),
    name       TEXT    NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX snippet_events_snippet ON snippet_events (snippet_id, id);
CREATE INDEX snippet_events_guild ON snippet_events (guild_id, id);

-- History is evidence: the database itself refuses to rewrite it.
-- +goose StatementBegin
CREATE TRIGGER snippet_events_no_update BEFORE UPDATE ON snippet_events BEGIN
    SELECT RAISE(ABORT, 'snippet_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER snippet_events_no_delete BEFORE DELETE ON snippet_events BEGIN
    SELECT RAISE(ABORT, 'snippet_events is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER snippet_events_no_delete;
DROP TRIGGER snippet_events_no_update;
DROP TABLE snippet_events;
DROP TABLE snippets;
