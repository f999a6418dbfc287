-- Cases, their per-guild numbering, and their append-only history.
-- Kept in lockstep with ../postgres/00001_cases.sql: same tables, columns and versions.
-- Times are Unix milliseconds; booleans are 0/1; JSON is TEXT checked with json_valid.

-- +goose Up
CREATE TABLE guilds (
    id         INTEGER PRIMARY KEY CHECK (id > 0),
    case_count INTEGER NOT NULL DEFAULT 0 CHECK (case_count >= 0),
    joined_at  INTEGER NOT NULL,
    left_at    INTEGER
) STRICT;

CREATE TABLE cases (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL REFERENCES guilds (id),
    number            INTEGER NOT NULL CHECK (number >= 1),
    type              TEXT    NOT NULL CHECK (type IN ('BAN', 'UNBAN', 'HACKBAN', 'TEMPBAN', 'KICK', 'TIMEOUT', 'UNTIMEOUT', 'WARN', 'JAIL', 'UNJAIL', 'SNIPPETBAN', 'SNIPPETUNBAN', 'POLLBAN', 'POLLUNBAN', 'SOFTBAN', 'NOTE', 'AUTOMOD')),
    status            TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'voided')),
    processed         INTEGER NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    reason            TEXT    NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    moderator_id      INTEGER NOT NULL CHECK (moderator_id > 0),
    user_id           INTEGER NOT NULL CHECK (user_id > 0),
    role_ids          TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(role_ids) = 'array'),
    expires_at        INTEGER,
    metadata          TEXT    NOT NULL DEFAULT '{}' CHECK (json_type(metadata) = 'object'),
    modlog_message_id INTEGER CHECK (modlog_message_id IS NULL OR modlog_message_id > 0),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    CONSTRAINT cases_guild_number UNIQUE (guild_id, number)
) STRICT;

CREATE INDEX cases_guild_user ON cases (guild_id, user_id, id);
CREATE INDEX cases_guild_moderator ON cases (guild_id, moderator_id, id);
CREATE INDEX cases_guild_type ON cases (guild_id, type, id);
CREATE INDEX cases_guild_created ON cases (guild_id, created_at);
CREATE INDEX cases_due ON cases (expires_at) WHERE processed = FALSE AND status = 'active' AND expires_at IS NOT NULL;

CREATE TABLE case_events (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed')),
    actor_id   INTEGER NOT NULL CHECK (actor_id > 0),
    old_value  TEXT,
    new_value  TEXT,
    note       TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX case_events_case ON case_events (case_id, id);

-- History is evidence: the database itself refuses to rewrite it.
-- +goose StatementBegin
CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;
-- +goose StatementEnd

-- Every case is born with its "created" history row, in the same statement: no code path
-- can create a case without one.
-- +goose StatementBegin
CREATE TRIGGER cases_record_creation AFTER INSERT ON cases BEGIN
    INSERT INTO case_events (case_id, guild_id, kind, actor_id, new_value, created_at)
    VALUES (new.id, new.guild_id, 'created', new.moderator_id, new.status, new.created_at);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER cases_record_creation;
DROP TRIGGER case_events_no_delete;
DROP TRIGGER case_events_no_update;
DROP TABLE case_events;
DROP TABLE cases;
DROP TABLE guilds;
