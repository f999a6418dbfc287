-- The dashboard's sessions (internal/web). Kept in lockstep with
-- ../postgres/00009_web_sessions.sql. Times are Unix milliseconds.
--
-- The browser holds a random 32-byte session id; the table holds only its SHA-256, so a copy
-- of the database (a backup, a read-only replica) signs nobody in. A session ends 7 days
-- after sign-in or 24 hours after it was last seen, whichever comes first: expires_at is that
-- instant, moved when last_seen_at moves, so that the purge is one indexed range.

-- +goose Up
CREATE TABLE web_sessions (
    id_hash      TEXT    PRIMARY KEY CHECK (length(id_hash) = 64),
    user_id      INTEGER NOT NULL CHECK (user_id > 0),
    username     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL CHECK (last_seen_at >= created_at),
    expires_at   INTEGER NOT NULL CHECK (expires_at > created_at)
) STRICT;

CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
