-- Cases, their per-guild numbering, and their append-only history.
-- Times are Unix milliseconds (BIGINT) on both engines so that one set of queries and one
-- scanner serve both, and ordering never depends on a timestamp text format.

-- +goose Up
CREATE TABLE guilds (
    id         BIGINT PRIMARY KEY CHECK (id > 0),
    case_count BIGINT NOT NULL DEFAULT 0 CHECK (case_count >= 0),
    joined_at  BIGINT NOT NULL,
    left_at    BIGINT
);

CREATE TABLE cases (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id          BIGINT NOT NULL REFERENCES guilds (id),
    number            BIGINT NOT NULL CHECK (number >= 1),
    type              TEXT   NOT NULL CHECK (type IN ('BAN', 'UNBAN', 'HACKBAN', 'TEMPBAN', 'KICK', 'TIMEOUT', 'UNTIMEOUT', 'WARN', 'JAIL', 'UNJAIL', 'SNIPPETBAN', 'SNIPPETUNBAN', 'POLLBAN', 'POLLUNBAN', 'SOFTBAN', 'NOTE', 'AUTOMOD')),
    status            TEXT   NOT NULL CHECK (status IN ('pending', 'active', 'voided')),
    processed         BOOLEAN NOT NULL DEFAULT FALSE,
    reason            TEXT   NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
    moderator_id      BIGINT NOT NULL CHECK (moderator_id > 0),
    user_id           BIGINT NOT NULL CHECK (user_id > 0),
    role_ids          JSONB  NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(role_ids) = 'array'),
    expires_at        BIGINT,
    metadata          JSONB  NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    modlog_message_id BIGINT CHECK (modlog_message_id IS NULL OR modlog_message_id > 0),
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    CONSTRAINT cases_guild_number UNIQUE (guild_id, number)
);

-- Newest-first listings, each filter with the guild first because every moderator query is
-- scoped to one guild. A guild's own listing needs no index of its own: it walks
-- cases_guild_number backwards (numbers grow with time within a guild).
CREATE INDEX cases_guild_user ON cases (guild_id, user_id, id);
CREATE INDEX cases_guild_moderator ON cases (guild_id, moderator_id, id);
CREATE INDEX cases_guild_type ON cases (guild_id, type, id);
CREATE INDEX cases_guild_created ON cases (guild_id, created_at);
-- Only unprocessed active cases with an expiry are ever due: a tiny partial index.
CREATE INDEX cases_due ON cases (expires_at) WHERE processed = FALSE AND status = 'active' AND expires_at IS NOT NULL;
CREATE INDEX cases_reason_fts ON cases USING GIN (to_tsvector('simple', reason));
CREATE INDEX cases_metadata ON cases USING GIN (metadata jsonb_path_ops);
CREATE INDEX cases_role_ids ON cases USING GIN (role_ids jsonb_path_ops);

CREATE TABLE case_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id    BIGINT NOT NULL REFERENCES cases (id),
    guild_id   BIGINT NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed')),
    actor_id   BIGINT NOT NULL CHECK (actor_id > 0),
    old_value  TEXT,
    new_value  TEXT,
    note       TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX case_events_case ON case_events (case_id, id);

-- History is evidence: the database itself refuses to rewrite it.
-- +goose StatementBegin
CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();

-- Every case is born with its "created" history row, in the same statement: no code path
-- can create a case without one. A statement-level trigger writes a whole batch at once.
-- +goose StatementBegin
CREATE FUNCTION cases_record_creation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_events (case_id, guild_id, kind, actor_id, new_value, created_at)
    SELECT id, guild_id, 'created', moderator_id, status, created_at FROM new_cases ORDER BY id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER cases_record_creation AFTER INSERT ON cases
    REFERENCING NEW TABLE AS new_cases FOR EACH STATEMENT EXECUTE FUNCTION cases_record_creation();

-- +goose Down
DROP TRIGGER cases_record_creation ON cases;
DROP FUNCTION cases_record_creation();
DROP TRIGGER case_events_append_only ON case_events;
DROP FUNCTION case_events_append_only();
DROP TABLE case_events;
DROP TABLE cases;
DROP TABLE guilds;
