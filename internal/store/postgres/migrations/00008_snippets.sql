-- Snippets: named text a member posts with `snippet <name>` (internal/snippets), and the
-- append-only history of every change to them. Kept in lockstep with
-- ../sqlite/00008_snippets.sql. Times are Unix milliseconds. The CHECKs repeat the rules
-- internal/snippets enforces with clear messages (docs/snippets.md), so a write from
-- anywhere else cannot leave a snippet the bot would refuse.

-- +goose Up
CREATE TABLE snippets (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id     BIGINT  NOT NULL REFERENCES guilds (id),
    -- name as it was typed; name_key is its lower-case form, unique per guild, so "FAQ" and
    -- "faq" are one snippet.
    name         TEXT    NOT NULL CHECK (char_length(name) BETWEEN 1 AND 32 AND name ~ '^[A-Za-z0-9_-]+$'),
    name_key     TEXT    NOT NULL CHECK (name_key = lower(name)),
    content      TEXT    NOT NULL CHECK (char_length(content) BETWEEN 1 AND 1960),
    author_id    BIGINT  NOT NULL CHECK (author_id > 0),
    uses         BIGINT  NOT NULL DEFAULT 0 CHECK (uses >= 0),
    locked       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    last_used_at BIGINT,
    CONSTRAINT snippets_guild_name UNIQUE (guild_id, name_key)
);

-- The history outlives a deleted snippet, so snippet_id refers to no row.
CREATE TABLE snippet_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id   BIGINT NOT NULL REFERENCES guilds (id),
    snippet_id BIGINT NOT NULL CHECK (snippet_id > 0),
    actor_id   BIGINT NOT NULL CHECK (actor_id > 0),
    kind       TEXT   NOT NULL CHECK (kind IN ('create', 'edit', 'rename', 'delete', 'lock', 'unlock')),
    name       TEXT   NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX snippet_events_snippet ON snippet_events (snippet_id, id);
CREATE INDEX snippet_events_guild ON snippet_events (guild_id, id);

-- History is evidence: the database itself refuses to rewrite it.
-- +goose StatementBegin
CREATE FUNCTION snippet_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'snippet_events is append-only';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER snippet_events_append_only BEFORE UPDATE OR DELETE ON snippet_events
    FOR EACH ROW EXECUTE FUNCTION snippet_events_append_only();

-- +goose Down
DROP TRIGGER snippet_events_append_only ON snippet_events;
DROP FUNCTION snippet_events_append_only();
DROP TABLE snippet_events;
DROP TABLE snippets;
