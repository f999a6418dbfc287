-- Mass actions (massban, masskick, masstimeout, a raid's Ban all), the ban-on-join list and
-- the account-age gate (internal/moderation's batch path, docs/raids.md). Kept in lockstep
-- with ../postgres/00012_mass_actions.sql. Times are Unix milliseconds; booleans are 0/1.

-- +goose Up
-- One row per mass action: the durable record a restart continues from. parent_case_id is
-- the mass action's parent case (MASSBAN, MASSKICK, MASSTIMEOUT).
CREATE TABLE mass_actions (
    id             INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL REFERENCES guilds (id),
    parent_case_id INTEGER NOT NULL UNIQUE REFERENCES cases (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('ban', 'kick', 'timeout')),
    -- running: chunks remain; cancelled: a moderator stopped it between chunks; done.
    state          TEXT    NOT NULL CHECK (state IN ('running', 'cancelled', 'done')),
    moderator_id   INTEGER NOT NULL CHECK (moderator_id > 0),
    reason         TEXT    NOT NULL,
    delete_seconds INTEGER NOT NULL DEFAULT 0 CHECK (delete_seconds BETWEEN 0 AND 604800),
    duration_ms    INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    silent         INTEGER NOT NULL DEFAULT 0 CHECK (silent IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX mass_actions_running ON mass_actions (state, guild_id) WHERE state = 'running';

-- One row per target, in the order they are acted on (members first): chunk is the bulk
-- call the target goes in. case_id is the target's child case once recorded.
CREATE TABLE mass_targets (
    mass_id INTEGER NOT NULL REFERENCES mass_actions (id),
    seq     INTEGER NOT NULL CHECK (seq >= 0),
    user_id INTEGER NOT NULL CHECK (user_id > 0),
    member  INTEGER NOT NULL CHECK (member IN (0, 1)),
    chunk   INTEGER NOT NULL CHECK (chunk >= 0),
    -- queued: not yet sent; sending: its child case is pending and the call may be under
    -- way; done: banned (kicked, timed out); failed: not, with why in detail; listed: on the
    -- ban-on-join list; cancelled: never sent.
    state   TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'done', 'failed', 'listed', 'cancelled')),
    case_id INTEGER REFERENCES cases (id),
    detail  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (mass_id, seq),
    CONSTRAINT mass_targets_user UNIQUE (mass_id, user_id)
) STRICT;

CREATE INDEX mass_targets_chunk ON mass_targets (mass_id, chunk, seq);

-- Users Discord would not let gavel ban while they were not members (error 30035): banned on
-- sight if they join. Removed once banned.
CREATE TABLE ban_on_join (
    guild_id       INTEGER NOT NULL REFERENCES guilds (id),
    user_id        INTEGER NOT NULL CHECK (user_id > 0),
    moderator_id   INTEGER NOT NULL CHECK (moderator_id > 0),
    reason         TEXT    NOT NULL,
    parent_case_id INTEGER REFERENCES cases (id),
    added_at       INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) STRICT;

-- The account-age gate: members whose account is younger than min_age_ms are timed out
-- until it is that old. No row: off.
CREATE TABLE account_age_gates (
    guild_id   INTEGER PRIMARY KEY REFERENCES guilds (id),
    min_age_ms INTEGER NOT NULL CHECK (min_age_ms BETWEEN 3600000 AND 2419200000),
    updated_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE account_age_gates;
DROP TABLE ban_on_join;
DROP TABLE mass_targets;
DROP TABLE mass_actions;
